import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, lsmCommand } from './helpers.ts';
import { runAs, skip, spawnAs, unprivilegedHome, unprivilegedIds, waitForExec } from './unprivileged.ts';

/**
 * The keeper's custody, tried as a process of the same ordinary user would (root reads
 * any /proc and attaches to anything, so none of this means anything as root). Each
 * check is paired with a control, a process of the same user that is not the keeper,
 * on which the same attempt succeeds: a check that could not fail would prove nothing.
 */
const PASS = 'unprivileged passphrase 42';
const CANARY = 'up-canary-5d2e8a0c4f';
const dirs: string[] = [];
let home = '';
let keeperPid = 0;

function as(args: string[], input = ''): { code: number | null; stdout: string; stderr: string } {
  const [cmd, pre] = lsmCommand();
  const r = runAs(cmd, [...pre, ...args], { env: cleanEnv({ LSM_DIR: home, HOME: home }), input, cwd: join(home, '..'), timeout: 60_000 });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

after(() => {
  if (keeperPid > 0) as(['keeper', 'stop']);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setUp(): void {
  if (keeperPid > 0) return;
  const dir = unprivilegedHome();
  dirs.push(dir);
  home = join(dir, 'h');
  assert.equal(as(['init']).code, 0);
  assert.equal(as(['set', 'myapp', 'prod', 'DB_URL', `postgres://u:${CANARY}@db/x`]).code, 0);
  // These tests read prod as an unattended caller, which a protected home asks about by default.
  assert.equal(runAs('sh', ['-c', `printf 'policy:\n  unattended: allow\n' >> '${join(home, 'config.yaml')}'`]).status, 0);
  const p = as(['key', 'protect'], `${PASS}\n${PASS}\n`);
  assert.equal(p.code, 0, p.stderr);
  const u = as(['unlock'], `${PASS}\n`);
  assert.equal(u.code, 0, u.stderr);
  const st = JSON.parse(as(['keeper', 'status', '--format', 'json']).stdout);
  assert.equal(st.running, true);
  assert.equal(st.dumpable, false);
  assert.ok(Number.isSafeInteger(st.pid) && st.pid > 1);
  keeperPid = st.pid;
  assert.equal(statSync(`/proc/${keeperPid}`).uid, unprivilegedIds().uid);
}

/** A process of the same user that is not hardened: what the keeper would be without prctl. */
function control(): { pid: number; stop: () => void } {
  const c = spawnAs('sleep', ['60'], { env: { CANARY_ENV: CANARY }, stdio: 'ignore', cwd: home });
  assert.ok(c.pid, 'the control did not start');
  // Until setpriv has become the user and exec'd sleep, its /proc is root's: seen once in CI.
  waitForExec(c.pid!, 'sleep');
  return { pid: c.pid!, stop: () => c.kill('SIGKILL') };
}

const readEnviron = (pid: number) => runAs('cat', [`/proc/${pid}/environ`]);
const readMem = (pid: number) => runAs('dd', [`if=/proc/${pid}/mem`, 'bs=1', 'count=1', 'skip=4194304', 'status=none']);

test('the keeper\'s environment and memory are closed to the user\'s other processes; a control is not', { skip }, () => {
  setUp();
  const c = control();
  try {
    const env = readEnviron(c.pid);
    assert.equal(env.status, 0);
    assert.ok(env.stdout.includes(CANARY), 'the control\'s environment was not readable: the check could not fail');
    assert.notEqual(readEnviron(keeperPid).status, 0, 'the keeper\'s /proc/PID/environ is readable');
    // mem: the control's open succeeds (the read may miss a mapping); the keeper's open is refused.
    assert.doesNotMatch(readMem(c.pid).stderr, /Permission denied|Operation not permitted/);
    assert.match(readMem(keeperPid).stderr, /Permission denied|Operation not permitted/);
  } finally {
    c.stop();
  }
});

test('ptrace attach to the keeper fails; to a control it works', { skip }, () => {
  setUp();
  const c = control();
  try {
    const gdb = (pid: number) => runAs('gdb', ['-p', String(pid), '-batch', '-ex', 'detach'], { timeout: 30_000 });
    const ok = gdb(c.pid);
    assert.doesNotMatch(`${ok.stdout}${ok.stderr}`, /ptrace: Operation not permitted/, 'gdb could not attach to the control: the check could not fail');
    const bad = gdb(keeperPid);
    assert.match(`${bad.stdout}${bad.stderr}`, /Operation not permitted|Could not attach/);
  } finally {
    c.stop();
  }
});

test('age -d -i fails for every file of the protected home, and no file there or in the temp dir holds an identity', { skip }, () => {
  setUp();
  const store = join(home, 'myapp.prod.age');
  for (const f of readdirSync(home)) {
    const r = runAs('age', ['-d', '-i', join(home, f), store], { input: '' });
    assert.notEqual(r.status, 0, `age -d -i ${f} opened the store`);
    assert.ok(!String(r.stdout).includes(CANARY));
  }
  const { uid } = unprivilegedIds();
  const scan = (dir: string, depth: number): void => {
    let names: string[] = [];
    try { names = readdirSync(dir); } catch { return; }
    for (const n of names) {
      const p = join(dir, n);
      let st;
      try { st = statSync(p); } catch { continue; }
      if (st.uid !== uid) continue;
      // Other lsm homes of this user (other test files run at once) hold their own key.txt.
      if (st.isDirectory() && depth > 0 && !existsSync(join(p, 'config.yaml'))) scan(p, depth - 1);
      else if (st.isFile() && st.size < 4 << 20) assert.ok(!readFileSync(p).includes('AGE-SECRET-KEY-1'), `${p} holds a plaintext identity`);
    }
  };
  scan(home, 2);
  assert.ok(!existsSync(join(home, 'key.txt')));
  scan(tmpdir(), 2);
});

test('a keeper that dies of a signal leaves no core file; a control leaves one', { skip }, () => {
  setUp();
  // A control: an unhardened process of the same user, core limit raised, killed the same way.
  const r = runAs('sh', ['-c', 'ulimit -c unlimited; sleep 30 & p=$!; sleep 0.2; kill -SEGV $p; wait $p; ls'], { cwd: home });
  const core = readdirSync(home).find((n) => /^core(\.\d+)?$/.test(n));
  if (core) rmSync(join(home, core));
  else assert.fail(`the control left no core file in ${home} (core_pattern: ${readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim()}): the check could not fail (${r.stdout})`);
  const pid = keeperPid;
  assert.ok(pid > 1);
  assert.equal(runAs('kill', ['-SEGV', String(pid)]).status, 0);
  for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) runAs('sleep', ['0.1']);
  assert.ok(!readdirSync(home).some((n) => /^core(\.\d+)?$/.test(n)), 'the keeper left a core file');
  // The next tests need a keeper again.
  const u = as(['unlock'], `${PASS}\n`);
  assert.equal(u.code, 0, u.stderr);
  keeperPid = 0;
  setUp();
});

test('a peer of another uid gets no answer from the keeper', { skip: skip ?? (process.getuid?.() !== 0 ? 'needs root to connect as another uid' : undefined) }, async () => {
  setUp();
  const reply = await new Promise<string>((resolve) => {
    const sock = connect(join(home, 'keeper.sock'));
    let out = '';
    sock.on('connect', () => sock.end(`${JSON.stringify({ v: 1, op: 'get', args: { target: { app: 'myapp', env: 'prod' }, key: 'DB_URL' } })}\n`));
    sock.on('data', (d) => { out += d; });
    sock.on('error', () => resolve(out));
    sock.on('close', () => resolve(out));
  });
  assert.equal(reply, '');
  // The owner gets the value.
  const own = as(['get', 'myapp', 'prod', 'DB_URL']);
  assert.equal(own.code, 0, own.stderr);
  assert.ok(own.stdout.includes(CANARY));
});

test('SIGUSR1 opens no inspector in the keeper; empty connections do not crash it; a second unlock leaves one keeper', { skip }, () => {
  setUp();
  const first = keeperPid;
  assert.equal(runAs('kill', ['-USR1', String(first)]).status, 0);
  runAs('sleep', ['1']);
  const ss = spawnSync('ss', ['-tlnp'], { encoding: 'utf8' });
  if (ss.status === 0) assert.doesNotMatch(ss.stdout, /:9229\b/, 'the keeper opened the inspector');
  const poke = `const n=require('net');for(let i=0;i<3;i++){const s=n.connect(${JSON.stringify(join(home, 'keeper.sock'))});s.on('connect',()=>s.destroy());s.on('error',()=>{})}`;
  runAs(process.execPath, ['-e', poke]);
  runAs('sleep', ['1']);
  const got = as(['get', 'myapp', 'prod', 'DB_URL']);
  assert.equal(got.code, 0, got.stderr);
  assert.ok(existsSync(`/proc/${first}`), 'the keeper died');
  // Unlocking again replaces the keeper: the old one stops (and records it), one remains.
  assert.equal(as(['unlock'], `${PASS}\n`).code, 0);
  for (let i = 0; i < 50 && existsSync(`/proc/${first}`); i++) runAs('sleep', ['0.1']);
  assert.ok(!existsSync(`/proc/${first}`), 'the replaced keeper still runs, holding the key');
  const log = readFileSync(join(home, 'audit.jsonl'), 'utf8');
  assert.match(log, /"event":"keeper\.lock"/);
  keeperPid = JSON.parse(as(['keeper', 'status', '--format', 'json']).stdout).pid;
});

test('a relay put on the socket path makes the keeper record it and lock', { skip }, () => {
  setUp();
  const sock = join(home, 'keeper.sock');
  assert.equal(runAs('mv', [sock, join(home, '.k')]).status, 0);
  const relay = spawnAs(process.execPath, ['-e', `require('net').createServer(()=>{}).listen(${JSON.stringify(sock)})`], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && existsSync(`/proc/${keeperPid}`); i++) runAs('sleep', ['0.1']);
    assert.ok(!existsSync(`/proc/${keeperPid}`), 'the keeper goes on serving behind a relay');
    assert.match(readFileSync(join(home, 'audit.jsonl'), 'utf8'), /"event":"keeper\.socket_moved"/);
  } finally {
    relay.kill('SIGKILL');
    keeperPid = 0;
  }
});
