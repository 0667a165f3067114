import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { appendFileSync, copyFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { LSM_BIN, initHome, lsm, lsmCommand, cleanEnv, tempDir, assertNoLeak } from './helpers.ts';

/**
 * A protected home and its keeper, end to end through the built lsm: what the keeper
 * decides and records must not depend on anything the calling process says or does to
 * itself. (The checks that need an unprivileged user, since root passes them by
 * capability, are in keeper-unprivileged.test.ts.)
 */
const PASS = 'correct horse battery staple';
const CANARY = 'kp-canary-7f3a9c1e5b';
const homes: string[] = [];

after(() => {
  for (const home of homes) lsm(['keeper', 'stop'], { home });
});

let template: string | undefined;
// Made outside any test: a tempDir() of the first test would be removed when it ends.
const templateDir = realpathSync(mkdtempSync(join(tmpdir(), 'lsm-keeper-template-')));
after(() => rmSync(templateDir, { recursive: true, force: true }));

/** A protected home with two stores; protected once (scrypt is slow by design), then copied. */
function protectedHome(): string {
  if (!template) {
    template = join(templateDir, 'home');
    assert.equal(lsm(['init'], { home: template }).code, 0);
    assert.equal(lsm(['set', 'myapp', 'prod', 'DB_URL', `postgres://u:${CANARY}@db/x`], { home: template }).code, 0);
    assert.equal(lsm(['set', 'myapp', 'dev', 'API_KEY', `dev-${CANARY}`], { home: template }).code, 0);
    const p = lsm(['key', 'protect'], { home: template, input: `${PASS}\n${PASS}\n` });
    assert.equal(p.code, 0, p.stderr);
  }
  const home = join(tempDir('lsm-home-'), 'home');
  cpSync(template, home, { recursive: true });
  homes.push(home);
  return home;
}

function unlock(home: string, extra: string[] = []): void {
  const r = lsm(['unlock', ...extra], { home, input: `${PASS}\n` });
  assert.equal(r.code, 0, r.stderr);
}

function rows(home: string): Array<Record<string, any>> {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

function status(home: string): Record<string, any> {
  return JSON.parse(lsm(['keeper', 'status', '--format', 'json'], { home }).stdout);
}

test('a protected home holds no plaintext identity, and without the keeper nothing is decrypted (exit 5)', () => {
  const home = protectedHome();
  for (const f of readdirSync(home)) {
    assert.ok(!readFileSync(join(home, f)).includes('AGE-SECRET-KEY-1'), `${f} holds a plaintext identity`);
  }
  const before = rows(home).length;
  const r = lsm(['get', 'myapp', 'prod', 'DB_URL'], { home });
  assert.equal(r.code, 5);
  assert.match(r.stderr, /protected and locked/);
  assert.equal(r.stdout, '');
  assert.equal(lsm(['exec', 'myapp', 'dev', '--', 'true'], { home }).code, 5);
  assert.equal(rows(home).length, before, 'a client wrote the log of a protected home');
  assert.equal(status(home).running, false);
});

test('through the keeper: set, get, list, exec, delete work and every event is the keeper\'s', () => {
  const home = protectedHome();
  unlock(home);
  const st = status(home);
  assert.equal(st.running, true);
  assert.equal(st.dumpable, false);
  assert.equal(lsm(['set', 'myapp', 'dev', 'NEW_KEY', 'fresh-value'], { home }).code, 0);
  const got = lsm(['get', 'myapp', 'dev', 'API_KEY'], { home });
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout, `dev-${CANARY}`);
  assert.deepEqual(lsm(['list', 'myapp', 'dev'], { home }).stdout.trim().split('\n'), ['API_KEY', 'NEW_KEY']);
  const ex = lsm(['exec', 'myapp', 'dev', '--no-mask', '--', 'sh', '-c', 'printf %s "$NEW_KEY"'], { home });
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stdout, 'fresh-value');
  assert.equal(lsm(['delete', 'myapp', 'dev', 'NEW_KEY'], { home }).code, 0);
  assert.equal(lsm(['get', 'myapp', 'dev', 'NEW_KEY'], { home }).code, 1);
  const mine = rows(home).filter((r) => ['set', 'get', 'list', 'exec', 'delete'].includes(r.event) && r.fields?.peer);
  assert.ok(mine.length >= 6);
  for (const r of mine) {
    assert.equal(r.fields.peer.source, 'kernel');
    assert.match(r.fields.peer.exe, /node|lsm|bun/);
  }
  assertNoLeak(CANARY, home);
  assert.equal(lsm(['audit', 'verify'], { home }).code, 0);
});

test('a NODE_OPTIONS shim that moves the clock and deletes the agent variables changes nothing the keeper records', () => {
  const dir = tempDir();
  const shim = join(dir, 'shim.cjs');
  writeFileSync(shim, `
const Real = Date; const skew = 2 * 86400e3;
global.Date = class extends Real { constructor(...a) { super(...(a.length ? a : [Real.now() - skew])); } static now() { return Real.now() - skew; } };
for (const k of Object.keys(process.env)) if (/^CLAUDE/.test(k)) delete process.env[k];
`);
  const env = { CLAUDECODE: '1', NODE_OPTIONS: `--require ${shim}` };
  // The attack, in an unprotected home: lsm itself writes "a human, two days ago".
  const plain = initHome();
  lsm(['set', 'myapp', 'prod', 'DB_URL', 'x'], { home: plain });
  if (lsmCommand()[0] === process.execPath) {
    assert.equal(lsm(['get', 'myapp', 'prod', 'DB_URL'], { home: plain, env }).code, 0);
    const row = rows(plain).at(-1)!;
    assert.ok(Date.now() - Date.parse(row.ts) > 86_400_000, 'the shim did not move the clock of an unprotected lsm');
    assert.equal(row.actor.agent_marker, '');
  }
  const home = protectedHome();
  unlock(home);
  const r = lsm(['get', 'myapp', 'prod', 'DB_URL'], { home, env });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stdout, '');
  const row = rows(home).at(-1)!;
  assert.equal(row.event, 'get');
  assert.equal(row.outcome, 'denied');
  assert.ok(Math.abs(Date.now() - Date.parse(row.ts)) < 60_000, `the row's time ${row.ts} is not now`);
  assert.equal(row.actor.agent_marker, 'claude');
  assert.equal(row.fields.caller, 'agent');
});

test('an agent that runs lsm with a scrubbed environment is known from its shell\'s environment', () => {
  const home = protectedHome();
  unlock(home);
  const [cmd, pre] = lsmCommand();
  const script = `env -i PATH="$PATH" LSM_DIR="$LSM_DIR" ${[cmd, ...pre].map((a) => `'${a}'`).join(' ')} get myapp prod DB_URL; exit $?`;
  const r = spawnSync('sh', ['-c', script], { env: cleanEnv({ CLAUDECODE: '1', LSM_DIR: home }), encoding: 'utf8', input: '' });
  assert.equal(r.status, 4, r.stderr);
  const row = rows(home).at(-1)!;
  assert.equal(row.actor.agent_marker, 'claude');
  assert.equal(row.fields.peer.marker_from.comm, 'sh');
});

test('a log copied away, read, and put back while the keeper runs fails verify until acknowledged with the passphrase', () => {
  const home = protectedHome();
  unlock(home);
  const log = join(home, 'audit.jsonl');
  const snap = join(tempDir(), 'snap.jsonl');
  copyFileSync(log, snap);
  assert.equal(lsm(['get', 'myapp', 'dev', 'API_KEY'], { home }).code, 0);
  copyFileSync(snap, log);
  assert.equal(lsm(['list', 'myapp', 'dev'], { home }).code, 0);
  const v = lsm(['audit', 'verify', '--format', 'text'], { home });
  assert.equal(v.code, 1);
  assert.match(v.stdout + v.stderr, /rewound/);
  assert.ok(rows(home).some((r) => r.event === 'audit.rewound'));
  unlock(home, ['--acknowledge']);
  assert.equal(lsm(['audit', 'verify'], { home }).code, 0);
});

test('a client cannot record the keeper\'s own events (an acknowledgement, a config change)', async () => {
  const home = protectedHome();
  unlock(home);
  const reply = await new Promise<string>((resolve, reject) => {
    const sock = connect(join(home, 'keeper.sock'));
    let out = '';
    sock.on('connect', () => sock.end(`${JSON.stringify({ v: 1, op: 'record', args: { input: { event: 'audit.acknowledged', fields: { through_seq: 1e9 } } } })}\n`));
    sock.on('data', (d) => { out += d; });
    sock.on('close', () => resolve(out));
    sock.on('error', reject);
  });
  const parsed = JSON.parse(reply);
  assert.equal(parsed.ok, false);
  assert.equal(parsed.error.code, 'denied');
  assert.ok(!rows(home).some((r) => r.event === 'audit.acknowledged'));
});

test('config.yaml loosened while the keeper runs: recorded as config.changed, not applied until the passphrase', () => {
  const home = protectedHome();
  unlock(home);
  appendFileSync(join(home, 'config.yaml'), 'policy:\n  agent: allow\naudit:\n  on_failure: open\n');
  const r = lsm(['get', 'myapp', 'prod', 'DB_URL'], { home, env: { CLAUDECODE: '1' } });
  assert.equal(r.code, 4, 'the loosened policy was applied');
  assert.match(r.stderr, /takes effect only after 'lsm unlock'/);
  const change = rows(home).find((x) => x.event === 'config.changed')!;
  assert.equal(change.fields.applied, false);
  assert.deepEqual(change.fields.sections, ['audit', 'policy']);
  assert.ok(change.fields.held_back.some((l: string) => l.startsWith('policy agent')));
  assert.ok(status(home).config_pending.length >= 2);
  // The passphrase puts it in force, and unlock says what it put in force.
  const u = lsm(['unlock'], { home, input: `${PASS}\n` });
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stderr, /config\.yaml: now in force with this passphrase: policy agent .*-> allow/);
  assert.match(u.stderr, /now in force with this passphrase: audit on_failure: closed -> open/);
  const unlocked = rows(home).filter((x) => x.event === 'keeper.unlock').at(-1)!;
  assert.ok(unlocked.fields.config_applied.length >= 2);
  assert.equal(lsm(['get', 'myapp', 'prod', 'DB_URL'], { home, env: { CLAUDECODE: '1' } }).code, 0);
  // Once in force it is not news: the next unlock says nothing of it.
  assert.doesNotMatch(lsm(['unlock'], { home, input: `${PASS}\n` }).stderr, /now in force/);
});

test('config.yaml loosened while the home is locked: the next unlock says what its passphrase puts in force', () => {
  const home = protectedHome();
  unlock(home);
  assert.equal(lsm(['lock'], { home }).code, 0);
  appendFileSync(join(home, 'config.yaml'), 'policy:\n  agent: allow\n');
  const u = lsm(['unlock'], { home, input: `${PASS}\n` });
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stderr, /now in force with this passphrase: policy agent .*-> allow/);
  assert.ok(rows(home).filter((x) => x.event === 'keeper.unlock').at(-1)!.fields.config_applied.length >= 1);
});

test('a tightening applies at once', () => {
  const home = protectedHome();
  unlock(home);
  appendFileSync(join(home, 'config.yaml'), 'policy:\n  unattended: {"prod*": deny}\n');
  assert.equal(lsm(['get', 'myapp', 'prod', 'DB_URL'], { home }).code, 4);
  const change = rows(home).find((x) => x.event === 'config.changed')!;
  assert.equal(change.fields.applied, true);
});

test('a killed keeper loses no event; the home is locked after it', () => {
  const home = protectedHome();
  unlock(home);
  for (let i = 0; i < 5; i++) assert.equal(lsm(['get', 'myapp', 'dev', 'API_KEY'], { home }).code, 0);
  const n = rows(home).filter((r) => r.event === 'get').length;
  process.kill(status(home).pid, 'SIGKILL');
  assert.equal(rows(home).filter((r) => r.event === 'get').length, n);
  assert.equal(n, 5);
  assert.equal(lsm(['audit', 'verify'], { home }).code, 0);
  assert.equal(lsm(['get', 'myapp', 'dev', 'API_KEY'], { home }).code, 5);
  unlock(home);
  assert.equal(lsm(['get', 'myapp', 'dev', 'API_KEY'], { home }).code, 0);
  assert.equal(lsm(['audit', 'verify'], { home }).code, 0);
});

test('16 concurrent clients lose no update and the chain verifies', async () => {
  const home = protectedHome();
  unlock(home);
  const [cmd, pre] = lsmCommand();
  const codes = await Promise.all(Array.from({ length: 16 }, (_, i) => new Promise<number | null>((resolve) => {
    const c = spawn(cmd, [...pre, 'set', 'myapp', 'dev', `K${i}`, `v${i}`], { env: cleanEnv({ LSM_DIR: home }), stdio: 'ignore' });
    c.on('close', resolve);
  })));
  assert.deepEqual(codes, Array(16).fill(0));
  const keys = lsm(['list', 'myapp', 'dev'], { home }).stdout.trim().split('\n');
  for (let i = 0; i < 16; i++) assert.ok(keys.includes(`K${i}`), `K${i} lost`);
  assert.equal(lsm(['audit', 'verify'], { home }).code, 0);
});

test('lsm lock wipes the key: the keeper exits and the home is locked', () => {
  const home = protectedHome();
  unlock(home);
  const r = lsm(['lock'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(status(home).running, false);
  assert.equal(lsm(['get', 'myapp', 'dev', 'API_KEY'], { home }).code, 5);
  assert.ok(rows(home).some((x) => x.event === 'keeper.lock'));
});

test('a wrong passphrase starts no keeper', () => {
  const home = protectedHome();
  const r = lsm(['unlock'], { home, input: 'wrong\n' });
  assert.notEqual(r.code, 0);
  assert.equal(status(home).running, false);
});

test('sealing in a protected home: the keeper holds the seal key; no audit.seal on disk; verify with the key passes', () => {
  const home = protectedHome();
  unlock(home);
  const init = lsm(['audit', 'seal', 'init', '--format', 'json'], { home });
  assert.equal(init.code, 0, init.stderr);
  const vk = JSON.parse(init.stdout).verification_key;
  assert.match(vk, /^lsmvk1-/);
  for (let i = 0; i < 3; i++) assert.equal(lsm(['get', 'myapp', 'dev', 'API_KEY'], { home }).code, 0);
  assert.ok(!readdirSync(home).includes('audit.seal'), 'the seal key lies on disk in the clear');
  assert.ok(rows(home).slice(-3).every((r) => typeof r.seal === 'string'));
  const st = lsm(['audit', 'seal', 'status', '--format', 'json'], { home });
  assert.equal(JSON.parse(st.stdout).state, 'on', st.stderr);
  const v = lsm(['audit', 'verify', '--verification-key', vk], { home });
  assert.equal(v.code, 0, v.stdout + v.stderr);
  // A restarted keeper goes on sealing with the checkpointed key.
  lsm(['lock'], { home });
  unlock(home);
  assert.equal(lsm(['get', 'myapp', 'dev', 'API_KEY'], { home }).code, 0);
  assert.equal(lsm(['audit', 'verify', '--verification-key', vk], { home }).code, 0);
});

test('dump, import and canaries go through the keeper: recorded by it, the store changed by it', () => {
  const home = protectedHome();
  unlock(home);
  const dir = tempDir();
  const d = lsm(['dump', 'myapp', 'dev', '-o', join(dir, '.env.out')], { home, cwd: dir });
  assert.equal(d.code, 0, d.stderr);
  assert.ok(readFileSync(join(dir, '.env.out'), 'utf8').includes(`API_KEY=dev-${CANARY}`));
  const dumped = rows(home).filter((r) => r.event === 'dump').at(-1)!;
  assert.equal(dumped.fields.peer.source, 'kernel');
  writeFileSync(join(dir, 'extra.env'), '# a comment\nEXTRA=imported-value\n');
  const i = lsm(['import', 'myapp', 'dev', './extra.env'], { home, cwd: dir });
  assert.equal(i.code, 0, i.stderr);
  assert.match(i.stdout, /1 added/);
  assert.equal(lsm(['get', 'myapp', 'dev', 'EXTRA'], { home }).stdout, 'imported-value');
  assert.equal(rows(home).filter((r) => r.event === 'import').at(-1)!.fields.peer.source, 'kernel');
  const c = lsm(['canary', 'add', 'myapp', 'dev', 'AWS_SECRET_ACCESS_KEY'], { home });
  assert.equal(c.code, 0, c.stderr);
  assert.equal(rows(home).filter((r) => r.event === 'canary.add').at(-1)!.fields.peer.source, 'kernel');
  assert.equal(lsm(['canary', 'remove', 'myapp', 'dev', 'AWS_SECRET_ACCESS_KEY'], { home }).code, 0);
  // clean compares values, so the keeper does it (test/keeper-commands.test.ts has edit, gh and rotate).
  const e = lsm(['clean', 'myapp', 'dev', '--force'], { home, cwd: dir });
  assert.equal(e.code, 0, e.stderr);
  assert.equal(rows(home).filter((r) => r.event === 'clean').at(-1)!.fields.peer.source, 'kernel');
  assertNoLeak(CANARY, home, i.stdout, i.stderr, e.stdout, e.stderr);
});

test('a get through the keeper: the keeper chooses the store from the caller\'s cwd (link, .lsm.yaml) and records what chose it', () => {
  const home = protectedHome();
  unlock(home);
  const project = realpathSync(tempDir('lsm-project-'));
  // Linked while the keeper runs: link writes config.yaml, which the keeper reads at the next request.
  assert.equal(lsm(['link', 'myapp'], { home, cwd: project }).code, 0);
  writeFileSync(join(project, '.lsm.yaml'), 'env: dev\n');
  const got = lsm(['get', 'API_KEY'], { home, cwd: project });
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout, `dev-${CANARY}`);
  assert.match(got.stderr, /myapp\/dev: the env chosen by .*\.lsm\.yaml/);
  const row = rows(home).filter((r) => r.event === 'get').at(-1)!;
  assert.equal(row.app, 'myapp');
  assert.equal(row.env, 'dev');
  assert.equal(row.fields.project_file, join(project, '.lsm.yaml'));
  assert.deepEqual(row.fields.project_chose, ['env']);
  assert.equal(row.actor.cwd, project);
  // A positional app and env are the caller's; an empty --app (an unset variable) is refused before anything is asked.
  assert.equal(lsm(['get', 'myapp', 'dev', 'API_KEY'], { home, cwd: tempDir('lsm-elsewhere-') }).stdout, `dev-${CANARY}`);
  const before = rows(home).length;
  const empty = lsm(['get', '--app', '', 'API_KEY'], { home, cwd: project });
  assert.equal(empty.code, 2, empty.stderr);
  assert.equal(rows(home).length, before);
  // Outside the linked project nothing chooses the app: the keeper says so, as the local get would.
  const elsewhere = lsm(['get', 'API_KEY'], { home, cwd: tempDir('lsm-elsewhere-') });
  assert.equal(elsewhere.code, 1, elsewhere.stderr);
  assert.match(elsewhere.stderr, /cannot determine the app/);
});

test('a keeper killed in the second before its checkpoint, the log cut back to it: the next unlock records keeper.unclean_exit, and suspicious flags it', async () => {
  const home = protectedHome();
  unlock(home);
  assert.equal(lsm(['get', 'myapp', 'dev', 'API_KEY'], { home }).code, 0);
  // The checkpoint follows the last append by a second: let it be written, then read and kill at once.
  await new Promise((r) => setTimeout(r, 1500));
  const log = join(home, 'audit.jsonl');
  const checkpointed = readFileSync(log);
  assert.equal(lsm(['get', 'myapp', 'dev', 'API_KEY', '--reason', 'hidden read'], { home }).code, 0);
  process.kill(status(home).pid, 'SIGKILL');
  // The agent's cover: the read cut off, the log exactly as the checkpoint knew it.
  writeFileSync(log, checkpointed);
  unlock(home);
  const all = rows(home);
  const unclean = all.filter((r) => r.event === 'keeper.unclean_exit');
  assert.equal(unclean.length, 1, 'the kill left no trace');
  assert.ok(unclean[0].fields.previous_pid > 0);
  assert.equal(all.filter((r) => r.event === 'audit.foreign_append').length, 0);
  const s = lsm(['audit', 'suspicious', '--since', '1h', '--format', 'json'], { home });
  const flagged = s.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.reasons.includes('keeper_alarm'));
  assert.ok(flagged.length >= 1, s.stdout + s.stderr);
  // A keeper that locks cleanly leaves no such row behind it.
  assert.equal(lsm(['lock'], { home }).code, 0);
  unlock(home);
  assert.equal(rows(home).filter((r) => r.event === 'keeper.unclean_exit').length, 1);
});

test('through an installed lsm on PATH (a link named lsm, as npm link makes): unlock starts a keeper that serves get and exec, and lock stops it', () => {
  const home = protectedHome();
  const bin = tempDir('lsm-bin-');
  symlinkSync(LSM_BIN, join(bin, 'lsm'));
  const env = cleanEnv({ LSM_DIR: home, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` });
  const onPath = (args: string[], input = '') => spawnSync('lsm', args, { env, input, encoding: 'utf8', timeout: 30_000 });
  const u = onPath(['unlock'], `${PASS}\n`);
  assert.equal(u.status, 0, u.stderr);
  const st = JSON.parse(onPath(['keeper', 'status', '--format', 'json']).stdout);
  assert.equal(st.running, true);
  assert.equal(st.dumpable, false);
  const got = onPath(['get', 'myapp', 'dev', 'API_KEY']);
  assert.equal(got.status, 0, got.stderr);
  assert.equal(got.stdout, `dev-${CANARY}`);
  const ex = onPath(['exec', 'myapp', 'dev', '--no-mask', '--', 'sh', '-c', 'printf %s "$API_KEY"']);
  assert.equal(ex.status, 0, ex.stderr);
  assert.equal(ex.stdout, `dev-${CANARY}`);
  const get = rows(home).filter((r) => r.event === 'get').at(-1)!;
  assert.equal(get.fields.peer.source, 'kernel');
  assert.equal(onPath(['lock']).status, 0);
  assert.equal(onPath(['get', 'myapp', 'dev', 'API_KEY']).status, 5);
});

test('a store changed behind the keeper is reported to the client that reads it, as without a keeper', () => {
  const home = protectedHome();
  unlock(home);
  try {
    assert.equal(lsm(['set', 'myapp', 'dev', 'ROLL', 'one'], { home }).code, 0);
    const old = readFileSync(join(home, 'myapp.dev.age'));
    assert.equal(lsm(['set', 'myapp', 'dev', 'ROLL', 'two'], { home }).code, 0);
    // Rolled back to a version lsm wrote before, not the one it wrote last.
    writeFileSync(join(home, 'myapp.dev.age'), old);
    const r = lsm(['get', 'myapp', 'dev', 'ROLL'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'one');
    assert.match(r.stderr, /warning: store myapp\/dev .* was changed outside lsm/);
    assert.ok(rows(home).some((e) => e.event === 'store.unrecorded_change'), 'the keeper did not record the change');
  } finally {
    lsm(['lock'], { home });
  }
});
