import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lsm, lsmCommand, tempDir } from './helpers.js';
import { decryptWithPassphrase } from '../src/age/passphrase.js';
import { LsmError, EXIT } from '../src/errors.js';
import { resolveHome } from '../src/home.js';
import { loadIdentity } from '../src/identity.js';
import { isProtected, unlockIdentity } from '../src/protect.js';

const PASS = 'correct horse battery staple';

/** Every file in the home (recursively) that holds a plaintext age identity. */
function plaintextKeys(dir: string): string[] {
  const hits: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    if (readFileSync(p).includes('AGE-SECRET-KEY-1')) hits.push(p);
  }
  return hits;
}

// A terminal for the prompts that only a terminal gets: a private tmux server.
const tmuxSocket = `lsm-test-${process.pid}`;
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', tmuxSocket, ...args], { encoding: 'utf8' });
const noTmux = spawnSync('tmux', ['-V']).status !== 0 ? 'tmux is not installed' : undefined;
const noAge = spawnSync('age', ['--version']).status !== 0 ? 'the age CLI is not installed' : undefined;
after(() => {
  if (!noTmux) tmux('kill-server');
});

async function until(what: string, ok: () => boolean, pane?: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}${pane ? `; the terminal shows:\n${tmux('capture-pane', '-p', '-t', pane).stdout}` : ''}`);
}

/** Runs a shell command line in a fresh tmux window; returns the window's name. */
function inTerminal(name: string, line: string): string {
  const r = tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '30', 'bash', '--norc', '--noprofile');
  assert.equal(r.status, 0, r.stderr);
  tmux('send-keys', '-t', name, line, 'Enter');
  return name;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('protected home', () => {
  test('init --protect off a terminal: key.age (0600) only, no plaintext key in the home, and commands exit 5 (locked)', () => {
    const home = join(tempDir(), 'h');
    const r = lsm(['init', '--protect'], { home, input: `${PASS}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /key\.age \(passphrase-protected\)/);
    assert.equal(existsSync(join(home, 'key.txt')), false);
    assert.equal(statSync(join(home, 'key.age')).mode & 0o777, 0o600);
    assert.deepEqual(plaintextKeys(home), []);
    const text = Buffer.from(decryptWithPassphrase(readFileSync(join(home, 'key.age')), PASS)).toString();
    assert.match(text, /^# created: .*\n# public key: age1\S+\nAGE-SECRET-KEY-1\S+\n$/);
    for (const args of [['set', 'app', 'dev', 'K', 'v'], ['get', 'app', 'dev', 'K'], ['list', 'app', 'dev']]) {
      const g = lsm(args, { home });
      assert.equal(g.code, EXIT.locked, `${args.join(' ')}: ${g.stderr}`);
      assert.match(g.stderr, /is protected and locked/);
      assert.match(g.stderr, /lsm unlock/);
    }
    assert.equal(existsSync(join(home, 'app.dev.age')), false);
  });

  test('init off a terminal stays unprotected unless --protect; an empty passphrase is refused and changes nothing', () => {
    const home = join(tempDir(), 'h');
    assert.equal(lsm(['init', '--protect'], { home, input: '\n' }).code, 2);
    assert.equal(existsSync(join(home, 'key.age')) || existsSync(join(home, 'key.txt')), false);
    const r = lsm(['init'], { home, input: `${PASS}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(home, 'key.txt')));
    assert.equal(existsSync(join(home, 'key.age')), false);
  });

  test('key protect: key.txt and its backups are encrypted with the passphrase and their plaintext is gone; the stores open with unlockIdentity', async () => {
    const home = join(tempDir(), 'h');
    assert.equal(lsm(['init'], { home }).code, 0);
    const oldKey = readFileSync(join(home, 'key.txt'), 'utf8');
    assert.equal(lsm(['init', '--force'], { home }).code, 0); // leaves key.txt.<time>.bak
    const key = readFileSync(join(home, 'key.txt'), 'utf8');
    assert.equal(lsm(['set', 'app', 'dev', 'K', 'canary-value-1'], { home }).code, 0);
    assert.equal(plaintextKeys(home).length, 2);

    const r = lsm(['key', 'protect'], { home, input: `${PASS}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(plaintextKeys(home), []);
    const names = readdirSync(home).sort();
    assert.ok(names.includes('key.age'));
    const bak = names.filter((n) => /^key\.txt\..+\.bak\.age$/.test(n));
    assert.equal(bak.length, 1, names.join(' '));
    assert.equal(names.some((n) => n === 'key.txt' || /\.bak$/.test(n)), false, names.join(' '));
    assert.equal(Buffer.from(decryptWithPassphrase(readFileSync(join(home, bak[0]!)), PASS)).toString(), oldKey);
    assert.equal(Buffer.from(decryptWithPassphrase(readFileSync(join(home, 'key.age')), PASS)).toString(), key);

    const h = resolveHome(home, {});
    assert.equal(isProtected(h), true);
    const id = await unlockIdentity(h, PASS);
    assert.ok(key.includes(id.identity));
    await assert.rejects(unlockIdentity(h, 'not-it-zq'), (e: unknown) => e instanceof LsmError && e.code === 'bad_passphrase' && !`${e.message} ${e.hint}`.includes('not-it-zq'));
    await assert.rejects(loadIdentity(h), (e: unknown) => e instanceof LsmError && e.code === 'locked' && e.exit === EXIT.locked);
    assert.equal(lsm(['key', 'protect'], { home, input: `${PASS}\n` }).code, 1, 'already protected');
    assert.equal(lsm(['get', 'app', 'dev', 'K'], { home }).code, EXIT.locked);
  });

  test('a home with both key.txt and key.age is refused, naming which file to remove', () => {
    const home = join(tempDir(), 'h');
    assert.equal(lsm(['init'], { home }).code, 0);
    const key = readFileSync(join(home, 'key.txt'));
    assert.equal(lsm(['key', 'protect'], { home, input: `${PASS}\n` }).code, 0);
    writeFileSync(join(home, 'key.txt'), key, { mode: 0o600 });
    const r = lsm(['list', 'app', 'dev'], { home });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /both a plaintext key .*key\.txt.* and a protected one .*key\.age/);
    assert.match(r.stderr, /remove .*key\.txt/);
  });

  test('lsm init on a terminal protects by default, asking the passphrase twice without echo', { skip: noTmux }, async () => {
    const home = join(tempDir(), 'h');
    const [cmd, pre] = lsmCommand();
    const pane = inTerminal('init', `LSM_DIR=${shq(home)} ${[cmd, ...pre].map(shq).join(' ')} init; echo EXIT=$?`);
    const screen = () => tmux('capture-pane', '-p', '-t', pane).stdout;
    await until('the passphrase prompt', () => screen().includes('Passphrase for the new key:'), pane);
    tmux('send-keys', '-t', pane, '-l', PASS);
    tmux('send-keys', '-t', pane, 'Enter');
    await until('the second prompt', () => screen().includes('Repeat the passphrase:'), pane);
    tmux('send-keys', '-t', pane, '-l', PASS);
    tmux('send-keys', '-t', pane, 'Enter');
    await until('init to finish', () => /EXIT=\d/.test(screen()), pane);
    assert.match(screen(), /EXIT=0/);
    assert.doesNotMatch(screen(), new RegExp(PASS), 'the passphrase is not echoed');
    assert.ok(existsSync(join(home, 'key.age')));
    assert.equal(existsSync(join(home, 'key.txt')), false);
    tmux('kill-session', '-t', pane);
  });

  test('on a terminal, two different passphrases are refused and nothing is created', { skip: noTmux }, async () => {
    const home = join(tempDir(), 'h');
    const [cmd, pre] = lsmCommand();
    const pane = inTerminal('mismatch', `LSM_DIR=${shq(home)} ${[cmd, ...pre].map(shq).join(' ')} init; echo EXIT=$?`);
    const screen = () => tmux('capture-pane', '-p', '-t', pane).stdout;
    await until('the passphrase prompt', () => screen().includes('Passphrase for the new key:'), pane);
    tmux('send-keys', '-t', pane, '-l', PASS);
    tmux('send-keys', '-t', pane, 'Enter');
    await until('the second prompt', () => screen().includes('Repeat the passphrase:'), pane);
    tmux('send-keys', '-t', pane, '-l', `${PASS}!`);
    tmux('send-keys', '-t', pane, 'Enter');
    await until('init to finish', () => /EXIT=\d/.test(screen()), pane);
    assert.match(screen(), /passphrases do not match/);
    assert.match(screen(), /EXIT=2/);
    assert.equal(existsSync(join(home, 'key.age')) || existsSync(join(home, 'key.txt')), false);
    tmux('kill-session', '-t', pane);
  });

  test('age -d -i key.age opens a store after asking the passphrase on the terminal', { skip: noTmux ?? noAge }, async () => {
    const dir = tempDir();
    const home = join(dir, 'h');
    assert.equal(lsm(['init'], { home }).code, 0);
    assert.equal(lsm(['set', 'app', 'dev', 'K', 'canary-value-2'], { home }).code, 0);
    assert.equal(lsm(['key', 'protect'], { home, input: `${PASS}\n` }).code, 0);
    // Without the passphrase, the identity file gives nothing.
    assert.notEqual(spawnSync('age', ['-d', '-i', join(home, 'key.age'), join(home, 'app.dev.age')], { input: '' }).status, 0);
    const out = join(dir, 'out');
    const pane = inTerminal('age', `age -d -i ${shq(join(home, 'key.age'))} -o ${shq(out)} ${shq(join(home, 'app.dev.age'))}; echo EXIT=$?`);
    const screen = () => tmux('capture-pane', '-p', '-t', pane).stdout;
    await until('age to ask the passphrase', () => /passphrase/i.test(screen()), pane);
    tmux('send-keys', '-t', pane, '-l', PASS);
    tmux('send-keys', '-t', pane, 'Enter');
    await until('age to finish', () => /EXIT=\d/.test(screen()), pane);
    assert.match(screen(), /EXIT=0/);
    assert.match(readFileSync(out, 'utf8'), /canary-value-2/);
    tmux('kill-session', '-t', pane);
  });
});
