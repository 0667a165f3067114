import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cleanEnv, tempDir } from './helpers.js';

/**
 * What only the native executable (scripts/build-native.mjs, Bun) can get wrong. The
 * whole end-to-end suite also runs against it (`npm run test:native`); this file checks
 * what that suite cannot: the build itself, life without Node, the files both builds
 * share, what Bun would read from the cwd, and the age code under Bun's runtime.
 */

const BUNDLE = resolve('dist/lsm.cjs');

// The Bun the build uses (scripts/build-native.mjs decides), or undefined when this host has none.
function findBun(): string | undefined {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', "import('./scripts/build-native.mjs').then((m) => process.stdout.write(m.findBun()))"], { encoding: 'utf8' });
  return r.status === 0 && r.stdout ? r.stdout : undefined;
}

const BUN = findBun();
const skip = BUN ? false : `no Bun for ${process.platform}-${process.arch} (set BUN=/path/to/bun)`;

// Built here rather than taken from dist/: `npm test` builds only the bundle, and a
// test:native run may be using dist/lsm at the same time.
const NATIVE = join(tempDir('lsm-native-'), 'lsm');
before(() => {
  if (!BUN) return;
  const r = spawnSync(process.execPath, ['scripts/build-native.mjs', `--outfile=${NATIVE}`], { encoding: 'utf8', env: { ...process.env, BUN } });
  assert.equal(r.status, 0, r.stderr);
});

interface Run { code: number | null; stdout: string; stderr: string }

function run(bin: string, args: string[], opts: { home: string; input?: string; env?: Record<string, string | undefined>; cwd?: string }): Run {
  const isNode = bin.endsWith('.cjs');
  const spawnOpts: SpawnSyncOptions = { env: cleanEnv({ LSM_DIR: opts.home, BUN_OPTIONS: undefined, BUN_BE_BUN: undefined, ...opts.env }), cwd: opts.cwd, input: opts.input ?? '', encoding: 'utf8', timeout: 30000 };
  const r = isNode ? spawnSync(process.execPath, [bin, ...args], spawnOpts) : spawnSync(bin, args, spawnOpts);
  return { code: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? r.error ?? '') };
}

function ok(r: Run): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('the native build runs without Node on PATH and without node_modules near it', { skip }, () => {
  // An empty PATH: nothing to find node (or anything else) with.
  const cwd = tempDir();
  const home = join(cwd, 'h');
  const env = { PATH: join(cwd, 'empty') };
  ok(run(NATIVE, ['init'], { home, env, cwd }));
  ok(run(NATIVE, ['set', 'app', 'dev', 'TOKEN', '-'], { home, env, cwd, input: 'n4tive-v4lue' }));
  assert.equal(ok(run(NATIVE, ['get', 'app', 'dev', 'TOKEN'], { home, env, cwd })), 'n4tive-v4lue');
  assert.equal(ok(run(NATIVE, ['list', 'app', 'dev'], { home, env, cwd })), 'TOKEN\n');
  // yaml is external to the Node bundle; the executable must carry it.
  ok(run(NATIVE, ['link', 'app'], { home, env, cwd }));
  assert.match(readFileSync(join(home, 'config.yaml'), 'utf8'), /app/);
  assert.match(ok(run(NATIVE, ['version'], { home, env, cwd })), /^lsm \d+\.\d+\.\d+[^]*runtime: bun /);
});

test('the Node bundle and the native build read each other\'s key, stores and audit log', { skip }, () => {
  const home = join(tempDir(), 'h');
  ok(run(NATIVE, ['init'], { home }));
  ok(run(BUNDLE, ['set', 'app', 'dev', 'FROM_NODE', 'n0de-value'], { home }));
  assert.equal(ok(run(NATIVE, ['get', 'app', 'dev', 'FROM_NODE'], { home })), 'n0de-value');
  // A store large enough for several 64 KiB age chunks, through both AEAD backends.
  const big = 'x'.repeat(150_000);
  ok(run(NATIVE, ['set', 'app', 'dev', 'BIG', '-'], { home, input: big }));
  assert.equal(ok(run(BUNDLE, ['get', 'app', 'dev', 'BIG'], { home })), big);
  ok(run(BUNDLE, ['delete', 'app', 'dev', 'BIG'], { home }));
  assert.equal(ok(run(NATIVE, ['list', 'app', 'dev'], { home })), 'FROM_NODE\n');
  // One hash chain, appended to by both.
  for (const bin of [NATIVE, BUNDLE]) ok(run(bin, ['audit', 'verify', '--format', 'json'], { home }));
  const hasAge = spawnSync('age', ['--version']).status === 0;
  if (hasAge) {
    const r = spawnSync('age', ['-d', '-i', join(home, 'key.txt'), join(home, 'app.dev.age')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'FROM_NODE=n0de-value\n');
  }
});

test('the executable reads neither .env nor bunfig.toml from the cwd', { skip }, () => {
  // Bun's compiled executables load both by default; lsm's build turns that off. A
  // project's .env must not reach lsm's own environment, let alone a child's.
  const cwd = tempDir();
  const home = join(cwd, 'h');
  const elsewhere = join(cwd, 'elsewhere');
  const marker = join(cwd, 'preloaded');
  writeFileSync(join(cwd, '.env'), `LSM_DIR=${elsewhere}\nINJECTED=from-dotenv\n`);
  writeFileSync(join(cwd, 'preload.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x');\n`);
  writeFileSync(join(cwd, 'bunfig.toml'), 'preload = ["./preload.js"]\n');
  ok(run(NATIVE, ['init'], { home, cwd }));
  ok(run(NATIVE, ['set', 'app', 'dev', 'K', 'v'], { home, cwd }));
  const r = run(NATIVE, ['exec', 'app', 'dev', '--', 'sh', '-c', 'printf %s "${INJECTED:-unset}"'], { home, cwd });
  assert.equal(ok(r), 'unset');
  assert.ok(!existsSync(elsewhere), 'LSM_DIR came from the .env');
  assert.ok(!existsSync(marker), 'bunfig.toml preloaded a script');
});

test('age under Bun: the pure-JS AEAD is picked, and the CCTV vectors, age CLI and typage interop pass', { skip }, () => {
  const bun = BUN!;
  const probe = spawnSync(bun, ['-e', "import { aead } from './src/age/aead.ts'; process.stdout.write(aead().name)"], { encoding: 'utf8' });
  assert.equal(probe.status, 0, probe.stderr);
  assert.equal(probe.stdout, 'noble', 'Bun has no chacha20-poly1305 in node:crypto; a native one now would need this test changed');
  // age.test.ts itself, under `bun test`, less what cannot hold there: the describe
  // blocks that force the node:crypto AEAD or patch node:crypto's exports.
  const r = spawnSync(bun, ['test', './test/age.test.ts', '-t', String.raw`CCTV vectors \(noble|interop with the age CLI|differential against`], {
    encoding: 'utf8', timeout: 240000,
  });
  const out = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(out, /\(pass\) CCTV vectors \(noble ChaCha20-Poly1305\)/, out);
  assert.match(out, /\(pass\) differential against age-encryption/, out);
  assert.match(out, /^ 0 fail$/m, out);
});
