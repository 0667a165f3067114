// The Node build as it ships: the launcher, its four bundles and their code caches. A
// regression here costs no correctness, only start-up, so nothing else would notice it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createRequire } from 'node:module';
import { cleanEnv, tempDir } from './helpers.js';

const DIST = 'dist';
const launcher = createRequire(import.meta.url)(join(process.cwd(), DIST, 'lsm.cjs')) as {
  compile(bundle: string, cachedData?: Buffer): { cachedDataRejected?: boolean };
};

test('each bundle ships a code cache that this Node accepts', () => {
  for (const bundle of ['lsm-get', 'lsm-local', 'lsm-shield', 'lsm-core']) {
    const script = launcher.compile(bundle, readFileSync(join(DIST, `${bundle}.cache`)));
    assert.equal(script.cachedDataRejected, false, `${bundle}.cache was made for other sources or another Node`);
  }
});

type Bundle = 'lsm-get' | 'lsm-local' | 'lsm-shield' | 'lsm-core';
const inputs = () => JSON.parse(readFileSync(join(DIST, 'inputs.json'), 'utf8')) as Record<Bundle, string[]>;
const size = (bundle: Bundle) => readFileSync(join(DIST, `${bundle}.cjs`)).length;

test('the get bundles hold none of commander or of the other commands', () => {
  // The build lists each bundle's inputs (esbuild's metafile): minified code names none.
  const all = inputs();
  const holds = (bundle: Bundle, marker: string) => all[bundle].some((f) => f.startsWith(marker));
  for (const marker of ['src/program.ts', 'node_modules/commander/', 'src/commands/set.ts', 'src/commands/exec.ts', 'src/audit/verify.ts']) {
    assert.ok(holds('lsm-core', marker), `the check is void: ${marker} is not in lsm-core.cjs either`);
    assert.ok(!holds('lsm-get', marker), `${marker} is in lsm-get.cjs`);
    assert.ok(!holds('lsm-local', marker), `${marker} is in lsm-local.cjs`);
  }
  assert.ok(holds('lsm-local', 'src/commands/get.ts'));
  assert.ok(size('lsm-local') < size('lsm-core') / 3, `lsm-local.cjs is ${size('lsm-local')} bytes, lsm-core.cjs ${size('lsm-core')}`);
});

test('the keeper get bundle holds no crypto, no store, no audit log and no config reader', () => {
  const all = inputs();
  const holds = (bundle: Bundle, marker: string) => all[bundle].some((f) => f.startsWith(marker));
  for (const marker of ['src/age/', 'src/store.ts', 'src/audit/log.ts', 'src/config.ts', 'src/identity.ts', 'src/policy.ts', 'src/atomic.ts']) {
    assert.ok(holds('lsm-local', marker), `the check is void: ${marker} is not in lsm-local.cjs either`);
    assert.ok(!holds('lsm-get', marker), `${marker} is in lsm-get.cjs`);
  }
  assert.ok(holds('lsm-get', 'src/keeper/client.ts'));
  assert.ok(size('lsm-get') < size('lsm-local') / 4, `lsm-get.cjs is ${size('lsm-get')} bytes, lsm-local.cjs ${size('lsm-local')}`);
});

test('the shield bundle holds the shield and none of commander, the other commands, the stores or the log', () => {
  const all = inputs();
  const holds = (bundle: Bundle, marker: string) => all[bundle].some((f) => f.startsWith(marker));
  for (const marker of ['src/program.ts', 'node_modules/commander/', 'src/commands/exec.ts', 'src/store.ts', 'src/audit/log.ts', 'src/keeper/server.ts']) {
    assert.ok(holds('lsm-core', marker), `the check is void: ${marker} is not in lsm-core.cjs either`);
    assert.ok(!holds('lsm-shield', marker), `${marker} is in lsm-shield.cjs`);
  }
  for (const marker of ['src/shield/run.ts', 'src/shield/stub.ts', 'src/shield/rules.ts']) assert.ok(holds('lsm-shield', marker), `${marker} is not in lsm-shield.cjs`);
});

/**
 * A copy of dist/ without `missing`, and a runner for it in a throwaway home. Not through
 * helpers' lsm(): this file is about the Node build whatever LSM_BIN says.
 */
function distWithout(missing: string): (...args: string[]) => SpawnSyncReturns<string> {
  const home = join(tempDir('lsm-home-'), 'home');
  const dist = join(tempDir('lsm-dist-'), 'dist');
  cpSync(DIST, dist, { recursive: true });
  const run = (...args: string[]) => spawnSync(process.execPath, [join(dist, 'lsm.cjs'), ...args], { encoding: 'utf8', env: cleanEnv({ LSM_DIR: home }) });
  // The store is made with the whole build, then the file goes.
  assert.equal(run('init').status, 0);
  assert.equal(run('set', 'app', 'dev', 'KEY', 'v1').status, 0);
  rmSync(join(dist, missing));
  return run;
}

test('a plain get runs from the get bundles alone; anything else needs lsm-core.cjs', () => {
  const run = distWithout('lsm-core.cjs');
  const got = run('get', 'app', 'dev', 'KEY');
  assert.equal(got.status, 0, got.stderr);
  assert.equal(got.stdout, 'v1');
  const missing = run('get', 'app', 'dev', 'NOPE');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^lsm: key NOPE not found in app\/dev\n/);
  // A flag the fast path does not know hands the command to the full bundle.
  assert.notEqual(run('get', '--reason', 'x', 'app', 'dev', 'KEY').status, 0);
  assert.notEqual(run('list', 'app', 'dev').status, 0);
});

for (const missing of ['lsm-get.cjs', 'lsm-local.cjs']) {
  test(`without ${missing} (an older build copied over) a get still works, through the full bundle`, () => {
    const got = distWithout(missing)('get', 'app', 'dev', 'KEY');
    assert.equal(got.status, 0, got.stderr);
    assert.equal(got.stdout, 'v1');
  });
}
