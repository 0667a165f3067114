import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, initHome, lsm, lsmCommand, tempDir, type RunResult, assertNoLeak } from './helpers.ts';

const CANARY = 'canary-e7c0-exec-VALUE-5a1d';
const hasScript = spawnSync('script', ['--version']).status === 0;
const NODE = process.execPath;

const noLeak = (home: string, ...outputs: string[]) => assertNoLeak(CANARY, home, ...outputs);

function events(home: string, name: string): { outcome: string; fields?: Record<string, unknown> }[] {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === name);
}

function setup(): string {
  const home = initHome();
  const r = lsm(['import', 'app', 'dev', '-'], { home, input: `API_KEY=${CANARY}\nDB_URL=postgres://db/x\nSPACED='  two words  '\nMULTI="line1\\nline2"\n` });
  assert.equal(r.code, 0, r.stderr);
  return home;
}

// Prints the child's environment as JSON on stdout.
const DUMP_ENV = [NODE, '-e', 'process.stdout.write(JSON.stringify(process.env))'];

test('exec injects secrets exactly, and they win over inherited variables', () => {
  const home = setup();
  // --no-mask (issue #8): without a terminal the output is masked by default, and this test reads the values back.
  const r = lsm(['exec', 'app', 'dev', '--no-mask', '--', ...DUMP_ENV], { home, env: { DB_URL: 'inherited', KEEP_ME: 'yes' } });
  assert.equal(r.code, 0, r.stderr);
  const env = JSON.parse(r.stdout);
  assert.equal(env.API_KEY, CANARY);
  assert.equal(env.DB_URL, 'postgres://db/x');
  assert.equal(env.SPACED, '  two words  ');
  assert.equal(env.MULTI, 'line1\nline2');
  assert.equal(env.KEEP_ME, 'yes');
  noLeak(home, r.stderr);
  const ev = events(home, 'exec').at(-1)!;
  assert.equal(ev.outcome, 'ok');
  assert.deepEqual(ev.fields, { keys: ['API_KEY', 'DB_URL', 'SPACED', 'MULTI'], only: false, pristine: false, program: 'node', mask: false, mask_source: 'flag' });
});

test('--only injects just the named keys, and names missing ones', () => {
  const home = setup();
  const r = lsm(['exec', 'app', 'dev', '--only', 'DB_URL', '--no-mask', '--', ...DUMP_ENV], { home, env: { API_KEY: 'inherited' } }); // issue #8: --no-mask
  assert.equal(r.code, 0, r.stderr);
  const env = JSON.parse(r.stdout);
  assert.equal(env.DB_URL, 'postgres://db/x');
  assert.equal(env.API_KEY, 'inherited', 'a key left out is not injected');
  assert.equal(env.SPACED, undefined);
  const miss = lsm(['exec', 'app', 'dev', '--only', 'DB_URL,NOPE,ALSO_NOPE', '--', 'true'], { home });
  assert.equal(miss.code, 1);
  assert.match(miss.stderr, /^lsm: not in app\/dev: NOPE, ALSO_NOPE\n/);
  assert.equal(lsm(['exec', 'app', 'dev', '--only', 'bad-name', '--', 'true'], { home }).code, 2);
  noLeak(home, r.stderr, miss.stderr);
});

test('--pristine keeps only PATH, HOME, USER, SHELL, TERM and LANG, plus the secrets', () => {
  const home = setup();
  const r = lsm(['exec', '--pristine', 'app', 'dev', '--', ...DUMP_ENV], {
    home,
    env: { HOME: '/home/x', USER: 'x', SHELL: '/bin/sh', TERM: 'xterm', LANG: 'C.UTF-8', SECRET_OF_PARENT: 'no', LSM_TEST_X: '1' },
  });
  assert.equal(r.code, 0, r.stderr);
  const env = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(env).sort(), ['API_KEY', 'DB_URL', 'HOME', 'LANG', 'MULTI', 'PATH', 'SHELL', 'SPACED', 'TERM', 'USER']);
  assert.equal(env.HOME, '/home/x');
  assert.equal(events(home, 'exec').at(-1)!.fields!.pristine, true);
});

test('exit codes: the child status, 127 for a missing command, 126 for a non-executable file or a directory', () => {
  const home = setup();
  assert.equal(lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'exit 0'], { home }).code, 0);
  assert.equal(lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'exit 7'], { home }).code, 7);
  const missing = lsm(['exec', 'app', 'dev', '--', 'no-such-command-xyz', 'arg'], { home });
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /^lsm: command not found: "no-such-command-xyz"\n/);
  assert.equal(lsm(['exec', 'app', 'dev', '--', './nope/tool'], { home }).code, 127);
  const dir = tempDir();
  const plain = join(dir, 'plain.sh');
  writeFileSync(plain, '#!/bin/sh\necho hi\n');
  chmodSync(plain, 0o644);
  const denied = lsm(['exec', 'app', 'dev', '--', plain], { home });
  assert.equal(denied.code, 126);
  assert.match(denied.stderr, /permission denied/);
  const ev = events(home, 'exec').filter((e) => e.outcome === 'error');
  assert.deepEqual(ev.map((e) => e.fields!.reason), ['not_found', 'not_found', 'not_executable']);
  noLeak(home, missing.stderr, denied.stderr);
  // A directory named by path is found but cannot run: 126, as a shell says (it was 127).
  assert.equal(lsm(['exec', 'app', 'dev', '--', dir], { home }).code, 126);
});

test('usage: no -- or nothing after it is exit 2; a missing store is an error, not an empty run', () => {
  const home = setup();
  const none = lsm(['exec', 'app', 'dev'], { home });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /missing the command to run/);
  assert.equal(lsm(['exec', 'app', 'dev', '--'], { home }).code, 2);
  assert.equal(lsm(['exec', 'a', 'b', 'c', '--', 'true'], { home }).code, 2);
  const typo = lsm(['exec', 'apq', 'dev', '--', 'true'], { home });
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /no store for apq\/dev/);
});

test('stdin, stdout and stderr are inherited; arguments after -- reach the command untouched', () => {
  const home = setup();
  const r = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'cat; echo "[$1]" >&2', 'sh', '--only', '-- x'], { home, input: 'from stdin\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'from stdin\n');
  assert.equal(r.stderr, '[--only]\n');
});

test('on a terminal, the command gets the terminal on stdin, stdout and stderr', { skip: !hasScript && 'util-linux script is not installed' }, () => {
  const home = setup();
  const [node, pre] = lsmCommand();
  const cmd = [node, ...pre, 'exec', 'app', 'dev', '--', 'sh', '-c', 'test -t 0 && test -t 1 && test -t 2 && echo all-tty'].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', input: '', timeout: 20000, env: cleanEnv({ LSM_DIR: home }) });
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /all-tty/);
});

test('a child killed by a signal kills lsm with the same signal', () => {
  const home = setup();
  for (const sig of ['SIGTERM', 'SIGKILL', 'SIGUSR1'] as const) {
    const r: RunResult = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', `kill -${sig.slice(3)} $$`], { home });
    assert.equal(r.code, null, sig);
    assert.equal(r.signal, sig);
  }
});

/** Starts `lsm exec` around a node child that reports ready, then exits with codes[signal] when it gets it. */
function startTrap(home: string, codes: Record<string, number>, detached = false) {
  const script = `
    const codes = ${JSON.stringify(codes)};
    for (const [s, c] of Object.entries(codes)) process.on(s, () => { process.stdout.write('got ' + s + '\\n'); process.exit(c); });
    process.stdout.write('ready\\n');
    setInterval(() => {}, 1000);`;
  const [cmd, pre] = lsmCommand();
  const child = spawn(cmd, [...pre, 'exec', 'app', 'dev', '--', NODE, '-e', script], {
    env: cleanEnv({ LSM_DIR: home }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) => {
    child.on('exit', (code, signal) => setTimeout(() => resolve({ code, signal, out, err }), 50));
  });
  return { child, ready, done };
}

test('signals sent to lsm reach the child, and lsm exits with its code', async () => {
  const home = setup();
  const codes = { SIGUSR1: 42, SIGUSR2: 43, SIGTERM: 44, SIGHUP: 45, SIGWINCH: 46, SIGQUIT: 47, SIGINT: 48 };
  for (const [sig, code] of Object.entries(codes)) {
    // Detached: lsm is not the foreground group of a terminal, so terminal signals are relayed too.
    const t = startTrap(home, codes, true);
    await t.ready;
    t.child.kill(sig as NodeJS.Signals);
    const r = await t.done;
    assert.equal(r.code, code, `${sig}: ${r.err}`);
    assert.match(r.out, new RegExp(`got ${sig}\\n`));
    assert.equal(r.out.match(/got /g)!.length, 1, `${sig} delivered once`);
  }
});

test('a relayed signal that kills the child kills lsm the same way', async () => {
  const home = setup();
  const t = startTrap(home, {});
  await t.ready;
  t.child.kill('SIGTERM');
  const r = await t.done;
  assert.equal(r.code, null);
  assert.equal(r.signal, 'SIGTERM');
});

test('Ctrl-C on a terminal reaches the child once, not once from the terminal and once from lsm', { skip: !hasScript && 'util-linux script is not installed' }, async () => {
  const home = setup();
  const [node, pre] = lsmCommand();
  const script = `
    let n = 0;
    process.on('SIGINT', () => { n++; process.stdout.write('got SIGINT ' + n + '\\n'); setTimeout(() => process.exit(40 + n), 300); });
    process.stdout.write('ready\\n');
    setInterval(() => {}, 1000);`;
  // `exec`: script(1) runs this through $SHELL -c, and a shell that stays (dash does)
  // would die of the Ctrl-C itself; the terminal's foreground job must be lsm.
  const cmd = 'exec ' + [node, ...pre, 'exec', 'app', 'dev', '--', NODE, '-e', script].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: cleanEnv({ LSM_DIR: home }), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve) => child.stdout.on('data', (d) => {
    out += d;
    if (out.includes('ready')) resolve();
  }));
  child.stdin.write('\u0003');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.match(out, /got SIGINT 1/);
  assert.doesNotMatch(out, /got SIGINT 2/);
  assert.equal(code, 41);
});

test('when the audit event cannot be recorded, the command does not run', () => {
  const home = setup();
  const marker = join(tempDir(), 'ran');
  rmSync(join(home, 'audit.jsonl'));
  mkdirSync(join(home, 'audit.jsonl'));
  const r = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', `touch '${marker}'`], { home });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^lsm: cannot record the audit event .*nothing was revealed or changed\n/);
  assert.ok(!existsSync(marker));
  assert.ok(!r.stderr.includes(CANARY));
});
