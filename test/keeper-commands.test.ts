import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { lsm, lsmCommand, tempDir, assertNoLeak } from './helpers.ts';
import { decrypt, generateIdentity } from '../src/age/age.js';
import { decryptWithPassphrase } from '../src/age/passphrase.js';
import { resolveHome } from '../src/home.js';
import { unlockIdentity } from '../src/protect.js';
import { rotate } from '../src/rotate.js';
import { protectedCustody } from '../src/keeper/ops-rotate.js';

/**
 * The commands that compare or rewrite whole stores (edit, clean, gh push, gh status,
 * key rotate), in a protected home through the keeper, end to end through the built
 * lsm: the same behaviour and events as in an unprotected home, every event written by
 * the keeper (its actor from the kernel: fields.peer), no plaintext identity anywhere.
 */
const PASS = 'kc-passphrase-3e1f';
const CANARY = 'kc-canary-91d0b7e2aa';
const homes: string[] = [];
after(() => {
  for (const home of homes) lsm(['keeper', 'stop'], { home });
});

let template: string | undefined;
const templateDir = realpathSync(mkdtempSync(join(tmpdir(), 'lsm-kc-template-')));
after(() => rmSync(templateDir, { recursive: true, force: true }));

/** A protected home holding app/dev (two keys) and app/prod; unlocked. */
function unlocked(): string {
  if (!template) {
    template = join(templateDir, 'home');
    assert.equal(lsm(['init'], { home: template }).code, 0);
    assert.equal(lsm(['import', 'app', 'dev', '-'], { home: template, input: `DB_URL=postgres://db/x\nAPI_KEY=${CANARY}\n` }).code, 0);
    assert.equal(lsm(['set', 'app', 'prod', 'TOKEN', `prod-${CANARY}`], { home: template }).code, 0);
    // These tests read prod without a terminal: a protected home asks (#17) unless the policy says otherwise.
    appendFileSync(join(template, 'config.yaml'), 'policy:\n  unattended: allow\n');
    const p = lsm(['key', 'protect'], { home: template, input: `${PASS}\n${PASS}\n` });
    assert.equal(p.code, 0, p.stderr);
  }
  const home = join(tempDir('lsm-home-'), 'home');
  cpSync(template, home, { recursive: true });
  homes.push(home);
  const r = lsm(['unlock'], { home, input: `${PASS}\n` });
  assert.equal(r.code, 0, r.stderr);
  return home;
}

function rows(home: string): Array<Record<string, any>> {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** Rows after `from`, of these events: each must be the keeper's (actor from the kernel), none claimed by the client. */
function keeperRows(home: string, from: number, ...events: string[]): Array<Record<string, any>> {
  const out = rows(home).slice(from).filter((r) => events.includes(r.event));
  for (const r of out) {
    assert.equal(r.fields?.peer?.source, 'kernel', `${r.event} was not written with the keeper's actor`);
    assert.equal(r.fields?.claimed, undefined, `${r.event} is the client's word`);
  }
  return out;
}

/** No file in the home (nor in the temp dir's lsm files) holds a plaintext identity. */
function noPlainKey(home: string): void {
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
  });
  for (const f of walk(home)) assert.ok(!readFileSync(f).includes('AGE-SECRET-KEY-1'), `${f} holds a plaintext identity`);
}

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

test('edit in a protected home: the keeper reveals the text and saves the edit, from a 0600 file that is wiped', () => {
  const home = unlocked();
  const bin = tempDir('lsm-kc-bin-');
  const ed = script(bin, 'ed', `
    stat -c '%a' "$(dirname "$1")" "$1" > '${bin}/modes'
    sed -i 's|^DB_URL=.*|DB_URL=postgres://db/new|' "$1"
    printf 'NEW_KEY=fresh\\n' >> "$1"`);
  const from = rows(home).length;
  const r = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: ed, VISUAL: undefined } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Saved app/dev: 1 added, 1 changed, 0 removed, 1 unchanged.\n');
  assert.equal(readFileSync(join(bin, 'modes'), 'utf8'), '700\n600\n');
  assert.deepEqual(readdirSync(home).filter((n) => n.startsWith('lsm-edit-')), []);
  assert.equal(lsm(['get', 'app', 'dev', 'NEW_KEY'], { home }).stdout, 'fresh');
  assert.equal(lsm(['get', 'app', 'dev', 'DB_URL'], { home }).stdout, 'postgres://db/new');
  const ev = keeperRows(home, from, 'edit');
  assert.deepEqual(ev.map((e) => [e.outcome, e.fields.stage]), [['ok', 'open'], ['ok', 'save']]);
  assert.deepEqual(ev[0].fields.keys, ['DB_URL', 'API_KEY']);
  const { store_sha256: written, peer: _p, ...saved } = ev[1].fields;
  assert.match(String(written), /^[0-9a-f]{64}$/);
  assert.deepEqual(saved, { added: 1, changed: 1, keys: ['NEW_KEY', 'DB_URL'], removed: 0, stage: 'save', unchanged: 1 });
  // The store vouched for by the keeper's row: verify passes, no "changed outside lsm".
  assert.equal(lsm(['audit', 'verify'], { home }).code, 0);
  noPlainKey(home);
  assertNoLeak(CANARY, home, r.stdout, r.stderr);
});

test('edit in a protected home: a concurrent change of the same key is refused; of another key, merged', () => {
  const home = unlocked();
  const bin = tempDir('lsm-kc-bin-');
  // The binary under test (node and the bundle, or the native executable), as lsm() runs it.
  const [cmd, prefix] = lsmCommand();
  const lsmArgv = [cmd, ...prefix].map((a) => `'${a}'`).join(' ');
  // The editor itself changes the store through lsm meanwhile, as another shell would.
  const same = script(bin, 'same', `LSM_DIR='${home}' ${lsmArgv} set app dev DB_URL theirs </dev/null >/dev/null 2>&1\nsed -i 's|^DB_URL=.*|DB_URL=ours|' "$1"`);
  const from = rows(home).length;
  const r = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: same, VISUAL: undefined } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /app\/dev changed while you were editing, and DB_URL changed on both sides; your edit was not saved/);
  assert.equal(lsm(['get', 'app', 'dev', 'DB_URL'], { home }).stdout, 'theirs');
  const failed = keeperRows(home, from, 'edit').at(-1)!;
  assert.equal(failed.outcome, 'error');
  assert.equal(failed.fields.reason, 'locked');
  const other = script(bin, 'other', `LSM_DIR='${home}' ${lsmArgv} set app dev OTHER x </dev/null >/dev/null 2>&1\nsed -i 's|^DB_URL=.*|DB_URL=ours|' "$1"`);
  const m = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: other, VISUAL: undefined } });
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /your changes were applied key by key/);
  assert.equal(lsm(['get', 'app', 'dev', 'DB_URL'], { home }).stdout, 'ours');
  assert.equal(lsm(['get', 'app', 'dev', 'OTHER'], { home }).stdout, 'x');
  assertNoLeak(CANARY, home, r.stdout, r.stderr, m.stdout, m.stderr);
});

test('edit in a protected home asks the policy as dump does: an agent on prod without a reason is refused before any text is revealed', () => {
  const home = unlocked();
  const bin = tempDir('lsm-kc-bin-');
  const ed = script(bin, 'ed', `touch '${bin}/opened'`);
  const from = rows(home).length;
  const r = lsm(['edit', 'app', 'prod'], { home, env: { EDITOR: ed, VISUAL: undefined, CLAUDECODE: '1' } });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(existsSync(join(bin, 'opened')), false, 'the editor ran');
  const denied = keeperRows(home, from, 'edit');
  assert.equal(denied.length, 1);
  assert.equal(denied[0].outcome, 'denied');
  assert.equal(denied[0].actor.agent_marker, 'claude');
  assertNoLeak(CANARY, home, r.stdout, r.stderr);
});

test('edit.save straight to the keeper with a text it did not reveal is refused: no oracle on a guessed store text', async () => {
  const home = unlocked();
  const guess = `DB_URL=postgres://db/x\nAPI_KEY=${CANARY}\n`;
  const ask = (req: object) => new Promise<Record<string, any>>((resolve, reject) => {
    const sock = connect(join(home, 'keeper.sock'));
    let out = '';
    sock.on('connect', () => sock.end(`${JSON.stringify({ v: 1, op: 'edit.save', args: { target: { app: 'app', env: 'dev' }, req } })}\n`));
    sock.on('data', (d) => { out += d; });
    sock.on('close', () => resolve(JSON.parse(out)));
    sock.on('error', reject);
  });
  const store = readFileSync(join(home, 'app.dev.age'));
  const from = rows(home).length;
  // The right text, as a caller that was never shown it would guess it: the save is refused either way.
  for (const token of ['0'.repeat(64), 'x']) {
    const reply = await ask({ original: guess, edited: guess, token });
    assert.equal(reply.ok, false);
    assert.equal(reply.error.code, 'denied');
  }
  assert.deepEqual(readFileSync(join(home, 'app.dev.age')), store);
  const refused = keeperRows(home, from, 'edit');
  assert.deepEqual(refused.map((r) => [r.outcome, r.fields.reason]), [['error', 'denied'], ['error', 'denied']]);
  assertNoLeak(CANARY, home);
});

test('clean in a protected home: the keeper compares the cwd\'s .env files value by value and removes the safe ones', () => {
  const home = unlocked();
  const dir = tempDir('lsm-kc-proj-');
  writeFileSync(join(dir, '.env'), `DB_URL=postgres://db/x\nAPI_KEY=${CANARY}\n`);
  writeFileSync(join(dir, '.env.local'), `API_KEY=another-${CANARY}\n`);
  const from = rows(home).length;
  const r = lsm(['clean', 'app', 'dev', '--force'], { home, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Safe to remove \(every value is in app\/dev\):\n {2}\.env {2}\(2 keys, all identical in the store\)\nKeeping:\n {2}\.env\.local {2}\(different value: API_KEY\)\n/);
  assert.match(r.stdout, /Removed \.env\n/);
  assert.equal(existsSync(join(dir, '.env')), false);
  assert.equal(existsSync(join(dir, '.env.local')), true);
  const ev = keeperRows(home, from, 'clean');
  // The judgement (a comparison of values: recorded before it is told), then the removal.
  assert.deepEqual(ev.map((e) => [e.fields.stage, e.fields.safe, e.fields.removed, e.fields.kept]), [
    ['judge', ['.env'], undefined, ['.env.local']],
    [undefined, undefined, ['.env'], ['.env.local']],
  ]);
  // Nothing safe: one event, nothing removed; off a terminal without --force: refused.
  const again = lsm(['clean', 'app', 'dev'], { home, cwd: dir });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Nothing to remove\./);
  writeFileSync(join(dir, '.env'), 'DB_URL=postgres://db/x\n');
  const judged = rows(home).length;
  const unconfirmed = lsm(['clean', 'app', 'dev'], { home, cwd: dir });
  assert.equal(unconfirmed.code, 1);
  // A guess confirmed and not acted on still leaves the keeper's row.
  const after = rows(home).slice(judged).filter((e) => e.event === 'clean');
  assert.equal(after[0].fields.peer.source, 'kernel');
  assert.equal(after[0].fields.claimed, undefined);
  assert.deepEqual(after[0].fields.safe, ['.env']);
  // The refusal to go on without a terminal is the client's word (claimed), written by the keeper.
  assert.deepEqual([after[1].fields.reason, after[1].fields.claimed], ['not_confirmed', true]);
  assert.match(unconfirmed.stderr, /not removing anything without a terminal to confirm on/);
  assert.equal(existsSync(join(dir, '.env')), true);
  noPlainKey(home);
  assertNoLeak(CANARY, home, r.stdout, r.stderr, again.stdout, unconfirmed.stderr);
});

const FAKE = resolve('test/fixtures/gh');
chmodSync(join(FAKE, 'gh'), 0o755);

function ghProject(home: string): { dir: string; env: Record<string, string>; calls: () => Array<{ argv: string[]; stdin?: string }> } {
  const dir = tempDir('lsm-kc-gh-');
  assert.equal(spawnSync('git', ['init', '-q'], { cwd: dir }).status, 0);
  assert.equal(spawnSync('git', ['remote', 'add', 'origin', 'git@github.com:acme/widget.git'], { cwd: dir }).status, 0);
  const scratch = tempDir('lsm-kc-ghfake-');
  const env = {
    PATH: `${FAKE}:${dirname(process.execPath)}:${process.env.PATH}`,
    GH_FAKE_LOG: join(scratch, 'calls.jsonl'),
    GH_FAKE_STATE: join(scratch, 'state.json'),
    GH_FAKE_NODE: process.execPath,
  };
  const l = lsm(['link', 'app'], { home, cwd: dir });
  assert.equal(l.code, 0, l.stderr);
  const calls = () => (existsSync(env.GH_FAKE_LOG) ? readFileSync(env.GH_FAKE_LOG, 'utf8').trim().split('\n').filter(Boolean).map((x) => JSON.parse(x)) : []);
  return { dir, env, calls };
}

test('gh push and gh status in a protected home: the values come from the keeper after the confirmation, with the intent recorded by it', () => {
  const home = unlocked();
  const p = ghProject(home);
  const from = rows(home).length;
  const r = lsm(['gh', 'push', '--force'], { home, cwd: p.dir, env: p.env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'About to set 2 secret(s) on acme/widget:\n  API_KEY\n  DB_URL\nSet 2 secret(s) on acme/widget\n');
  const sets = p.calls().filter((c) => c.argv[1] === 'set');
  assert.deepEqual(sets.map((c) => [c.argv[2], c.stdin]), [['API_KEY', CANARY], ['DB_URL', 'postgres://db/x']]);
  for (const c of p.calls()) assert.ok(!c.argv.join(' ').includes(CANARY), 'a value in gh\'s argv');
  const intent = keeperRows(home, from, 'gh_push_intent');
  assert.equal(intent.length, 1);
  const { peer: _p, ...fields } = intent[0].fields;
  assert.deepEqual(fields, { repo: 'acme/widget', target: 'repo', names: ['API_KEY', 'DB_URL'], count: 2, prune: false });
  const push = rows(home).slice(from).filter((x) => x.event === 'gh_push');
  assert.deepEqual(push.map((x) => [x.outcome, x.fields.names]), [['ok', ['API_KEY', 'DB_URL']]]);
  assert.equal(push[0].fields.peer.source, 'kernel');

  // Off a terminal without --force: refused before any value is revealed or sent.
  const before = rows(home).length;
  const refused = lsm(['gh', 'push'], { home, cwd: p.dir, env: p.env });
  assert.equal(refused.code, 1);
  assert.equal(rows(home).slice(before).filter((x) => x.event.startsWith('gh_')).length, 0);

  const s = lsm(['gh', 'status', '--format', 'json'], { home, cwd: p.dir, env: p.env });
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual(JSON.parse(s.stdout).in_sync.map((e: { name: string }) => e.name), ['API_KEY', 'DB_URL']);
  const st = rows(home).filter((x) => x.event === 'gh_status').at(-1)!;
  assert.equal(st.fields.in_sync, 2);
  assert.equal(st.fields.peer.source, 'kernel');
  noPlainKey(home);
  assertNoLeak(CANARY, home, r.stdout, r.stderr, s.stdout, s.stderr, refused.stderr);
});

test('gh push in a protected home asks the policy before the question: an agent pushing prod without a reason sends nothing', () => {
  const home = unlocked();
  const p = ghProject(home);
  const from = rows(home).length;
  const r = lsm(['gh', 'push', '--force', '--env', 'prod'], { home, cwd: p.dir, env: { ...p.env, CLAUDECODE: '1' } });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(p.calls().filter((c) => c.argv[1] === 'set').length, 0);
  const denied = keeperRows(home, from, 'gh_push');
  assert.deepEqual(denied.map((x) => [x.outcome, x.fields.names]), [['denied', ['TOKEN']]]);
  assertNoLeak(CANARY, home, r.stdout, r.stderr);
});

// --- key rotation ----------------------------------------------------------------------

/** The identity a passphrase-encrypted key file holds (age's scrypt format, as `age -d` reads it). */
function openKeyFile(path: string, passphrase: string): string {
  const text = Buffer.from(decryptWithPassphrase(readFileSync(path), passphrase)).toString('utf8');
  return text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
}

const opens = (home: string, store: string, identity: string): boolean => {
  try {
    decrypt(readFileSync(join(home, store)), [identity]);
    return true;
  } catch {
    return false;
  }
};

test('key rotate in a protected home: a new keeper gets the passphrase, rotates, records, serves; no plaintext key anywhere', () => {
  const home = unlocked();
  const oldPid = JSON.parse(lsm(['keeper', 'status', '--format', 'json'], { home }).stdout).pid;
  const before = openKeyFile(join(home, 'key.age'), PASS);
  const from = rows(home).length;
  const r = lsm(['key', 'rotate'], { home, input: `${PASS}\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Rotated the key: 2 stores re-encrypted\nPublic key: age1[0-9a-z]+\n$/);
  noPlainKey(home);
  for (const f of readdirSync(tmpdir())) {
    const p = join(tmpdir(), f);
    if (/^lsm-edit|^key/.test(f) && statSync(p).isFile()) assert.ok(!readFileSync(p).includes('AGE-SECRET-KEY-1'), `${p} holds a key`);
  }
  // key.age opens with the same passphrase and holds the new key, which opens every store; the old one opens none.
  const after = openKeyFile(join(home, 'key.age'), PASS);
  assert.notEqual(after, before);
  for (const s of ['app.dev.age', 'app.prod.age']) {
    assert.ok(opens(home, s, after), `${s} does not open with the new key`);
    assert.ok(!opens(home, s, before), `${s} still opens with the old key`);
  }
  // The old key only as a passphrase-encrypted backup, named as `key protect` names one.
  const backups = readdirSync(home).filter((n) => /^key\.txt\..+\.bak\.age$/.test(n));
  assert.equal(backups.length, 1);
  assert.equal(statSync(join(home, backups[0])).mode & 0o777, 0o600);
  assert.equal(openKeyFile(join(home, backups[0]), PASS), before);
  assert.throws(() => openKeyFile(join(home, backups[0]), 'not the passphrase'));
  assert.match(r.stderr, new RegExp(`${backups[0].replace(/\./g, '\\.')} \\(0600, encrypted with the passphrase\\)`));
  assert.equal(existsSync(join(home, 'key.rotating')), false);
  // The new keeper serves: another pid, the old one stopped; a get works; verify passes.
  const st = JSON.parse(lsm(['keeper', 'status', '--format', 'json'], { home }).stdout);
  assert.equal(st.running, true);
  assert.notEqual(st.pid, oldPid);
  assert.equal(lsm(['get', 'app', 'dev', 'API_KEY'], { home }).stdout, CANARY);
  assert.equal(lsm(['audit', 'verify'], { home }).code, 0);
  assert.deepEqual(lsm(['apps'], { home }).stdout.trim().split('\n'), ['app'], 'the keeper\'s checkpoint is not a store');
  const ev = rows(home).slice(from);
  const rot = keeperRows(home, from, 'key.rotate');
  assert.equal(rot.length, 1);
  assert.equal(rot[0].fields.stores, 2);
  assert.equal(rot[0].fields.backup, backups[0]);
  assert.equal(ev.filter((x) => x.event === 'store.reencrypted').length, 4, 'two passes over two stores');
  assert.deepEqual(ev.filter((x) => /unrecorded|foreign|rewound/.test(x.event)).map((x) => x.event), []);
  assert.ok(ev.findIndex((x) => x.event === 'keeper.lock') < ev.findIndex((x) => x.event === 'key.rotate'), 'the running keeper was stopped first');
  const log = readFileSync(join(home, 'audit.jsonl'), 'utf8');
  assert.ok(!log.includes(after) && !log.includes(before));
  assertNoLeak(CANARY, home, r.stdout, r.stderr);
});

test('key rotate in a protected home: a wrong passphrase changes nothing and leaves the keeper serving', () => {
  const home = unlocked();
  const key = readFileSync(join(home, 'key.age'));
  const r = lsm(['key', 'rotate'], { home, input: 'wrong\n' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /wrong passphrase/);
  assert.deepEqual(readFileSync(join(home, 'key.age')), key);
  assert.equal(lsm(['get', 'app', 'dev', 'API_KEY'], { home }).stdout, CANARY);
});

test('key rotate in a protected home, stopped half-way: every store opens, the next rotate finishes it with the passphrase', async () => {
  const home = unlocked();
  assert.equal(lsm(['lock'], { home }).code, 0);
  const h = resolveHome(home, {});
  const current = await unlockIdentity(h, PASS);
  const next = generateIdentity();
  const custody = protectedCustody(h, PASS, current, () => new Date());
  // Killed after the first store of the first pass (the progress callback throws), as a kill -9 of the rotating keeper.
  await assert.rejects(rotate(h, custody, async () => ({ old: current, next, id: 'feedc0de', started: '2026-01-01T00:00:00Z' }), async () => {}, (done) => {
    if (done === 1) throw new Error('killed');
  }), /killed/);
  assert.ok(existsSync(join(home, 'key.rotating')));
  noPlainKey(home);
  assert.ok(opens(home, 'app.dev.age', current.identity) && opens(home, 'app.dev.age', next.identity), 'the first store is open to both keys');
  // Unlocked as usual meanwhile: every store opens, and the command says a rotation waits.
  assert.equal(lsm(['unlock'], { home, input: `${PASS}\n` }).code, 0);
  const g = lsm(['get', 'app', 'prod', 'TOKEN'], { home });
  assert.equal(g.stdout, `prod-${CANARY}`);
  assert.match(g.stderr, /key rotation is under way or was interrupted.*'lsm key rotate' finishes it/);
  const from = rows(home).length;
  const r = lsm(['key', 'rotate'], { home, input: `${PASS}\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Finished the interrupted key rotation started 2026-01-01T00:00:00Z: 2 stores now encrypted to the new key\n/);
  assert.equal(existsSync(join(home, 'key.rotating')), false);
  assert.equal(openKeyFile(join(home, 'key.age'), PASS), next.identity);
  for (const s of ['app.dev.age', 'app.prod.age']) assert.ok(opens(home, s, next.identity) && !opens(home, s, current.identity));
  assert.equal(rows(home).slice(from).filter((x) => x.event === 'key.rotate').length, 0, 'finishing records no second rotation');
  assert.equal(lsm(['get', 'app', 'dev', 'API_KEY'], { home }).stdout, CANARY);
  noPlainKey(home);
});
