// How failures reach the user: by a message and an exit code, never a stack trace or a
// value. src/report.ts holds the one place that turns an error into both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { LsmError } from '../src/errors.js';
import { reportError } from '../src/report.js';

const CANARY = 'secret-canary-value';

function capture(err: unknown): { code: number; text: string } {
  let text = '';
  const code = reportError(err, { write: (s: string) => (text += s) });
  return { code, text };
}

test('an unexpected error is reported by its type and code, never by its message', () => {
  const err = Object.assign(new RangeError(`bad input near ${CANARY}`), { code: 'ERR_OUT_OF_RANGE' });
  const r = capture(err);
  assert.equal(r.code, 1);
  assert.equal(r.text, 'lsm: unexpected internal error: RangeError (ERR_OUT_OF_RANGE)\nhint: this is a bug in lsm; please report it\n');
  const own = capture(new LsmError('not_found', 'key K not found in a/dev', { hint: "'lsm list a dev' shows the keys it has" }));
  assert.deepEqual(own, { code: 1, text: "lsm: key K not found in a/dev\nhint: 'lsm list a dev' shows the keys it has\n" });
});

test('a crash in a callback is not turned into success by the command that goes on', () => {
  const run = (mode: string) => spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/scripts/crash-then-succeed.ts', mode], { encoding: 'utf8' });
  const crashed = run('crash');
  assert.equal(crashed.status, 1, crashed.stderr);
  assert.equal(crashed.stderr, 'lsm: unexpected internal error: TypeError\nhint: this is a bug in lsm; please report it\n');
  const control = run('success');
  assert.equal(control.status, 0, control.stderr);
  assert.equal(control.stderr, '');
});
