import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitPositional, appForDir } from '../src/resolve.js';
import { LsmError } from '../src/errors.js';

const err = (fn: () => unknown, code: string) =>
  assert.throws(fn, (e: unknown) => e instanceof LsmError && e.code === code);

test('positional [app] [env] ahead of the required arguments', () => {
  assert.deepEqual(splitPositional(['KEY'], 1, {}), { rest: ['KEY'] });
  assert.deepEqual(splitPositional(['myapp', 'KEY'], 1, {}), { app: 'myapp', env: undefined, rest: ['KEY'] });
  assert.deepEqual(splitPositional(['myapp', 'prod', 'KEY'], 1, {}), { app: 'myapp', env: 'prod', rest: ['KEY'] });
  assert.deepEqual(splitPositional(['prod', 'KEY'], 1, { app: 'x' }), { env: 'prod', rest: ['KEY'] });
  assert.deepEqual(splitPositional(['myapp', 'KEY'], 1, { env: 'dev' }), { app: 'myapp', env: undefined, rest: ['KEY'] });
});

test('surplus arguments, paths and "-" are refused, never taken as names', () => {
  err(() => splitPositional(['a', 'b', 'c', 'KEY'], 1, {}), 'usage');
  err(() => splitPositional(['a', 'KEY'], 1, { app: 'x', env: 'y' }), 'usage');
  err(() => splitPositional(['../../etc', 'KEY'], 1, {}), 'invalid_name');
  err(() => splitPositional(['-', 'KEY'], 1, {}), 'invalid_name');
  err(() => splitPositional(['a.b', 'KEY'], 1, {}), 'invalid_name');
  err(() => splitPositional(['app', 'e/v', 'KEY'], 1, {}), 'invalid_name');
});

test('the registry matches the cwd or its nearest linked ancestor', () => {
  const config = { apps: { outer: '/work/p', inner: '/work/p/sub', other: '/work/pp' }, tree: {} };
  assert.equal(appForDir(config, '/work/p'), 'outer');
  assert.equal(appForDir(config, '/work/p/src/lib'), 'outer');
  assert.equal(appForDir(config, '/work/p/sub/x'), 'inner');
  assert.equal(appForDir(config, '/work/pp'), 'other');
  assert.equal(appForDir(config, '/work'), undefined);
  assert.equal(appForDir(config, '/work/p2'), undefined);
});
