import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, initHome, lsm, lsmCommand, tempDir, assertNoLeak } from './helpers.ts';
import { mask, MASK } from '../src/mask.ts';

const CANARY = 'canary-4e2a-dump-VALUE-77b1';
const hasScript = spawnSync('script', ['--version']).status === 0;
const hasGit = spawnSync('git', ['--version']).status === 0;

const noLeak = (home: string, ...outputs: string[]) => assertNoLeak(CANARY, home, ...outputs);

function lastEvent(home: string, name: string): { outcome: string; fields?: Record<string, unknown> } {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === name).at(-1);
}

/** Runs lsm on a pseudo-terminal; `input` is typed into it. */
function onTTY(args: string[], home: string, cwd: string, input: string) {
  const [node, pre] = lsmCommand();
  const cmd = [node, ...pre, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd, input, encoding: 'utf8', timeout: 20000, env: cleanEnv({ LSM_DIR: home }) });
  return { code: r.status, out: String(r.stdout) };
}

const TRICKY: [string, string][] = [
  ['CANARY', CANARY],
  ['HASH', 'abc #def'],
  ['PADDED', '  leading and trailing  '],
  ['QUOTES', `say "hi" it's`],
  ['NEWLINES', 'line1\nline2\r\nline3\n'],
  ['UNICODE', 'ünïcødé ✓ 🔑 日本語'],
  ['BACKSLASH', 'C:\\path\\n\\'],
  ['DOLLAR', '$HOME ${X} `cmd`'],
  ['EMPTY', ''],
  ['EQUALS', 'a=b=c'],
];

function storeWith(home: string, app = 'app', entries = TRICKY) {
  // An empty value is given as one: an empty stdin is refused.
  for (const [k, v] of entries) assert.equal((v === '' ? lsm(['set', app, 'dev', k, ''], { home }) : lsm(['set', app, 'dev', k, '-'], { home, input: `${v}\n` })).code, 0);
}

test('mask: by code point, fixed width, a prefix only for long plain values', () => {
  assert.equal(mask(''), '');
  assert.equal(mask('a'), MASK);
  assert.equal(mask('fifteen-chars!!'), MASK);
  assert.equal(mask('sk-live-0123456789'), `sk${MASK}`);
  assert.equal(mask('🔑🔑' + 'x'.repeat(20)), `🔑🔑${MASK}`, 'astral characters are not split');
  assert.equal(mask('ünicode-' + 'x'.repeat(20)), `ün${MASK}`);
  assert.equal(mask(' leading space and more'), MASK, 'no blank in the prefix');
  assert.equal(mask('\u001b[31mred-and-long-value'), MASK, 'no control character in the prefix');
  assert.equal(mask('ae\u0301' + 'x'.repeat(20)), MASK, 'a prefix never ends before a combining mark');
  for (const v of ['x'.repeat(15), '日'.repeat(15)]) assert.equal(mask(v), MASK, 'a short value shows nothing of itself');
});

test('dump writes the exact store text to a 0600 .env and shows masked values only', () => {
  const home = initHome();
  storeWith(home);
  const cwd = tempDir();
  const r = lsm(['dump', 'app', 'dev'], { home, cwd });
  assert.equal(r.code, 0, r.stderr);
  const file = join(cwd, '.env');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, 'utf8');
  assert.ok(text.includes(CANARY));
  assert.match(r.stdout, new RegExp(`^CANARY=ca\\*{8}\nHASH=\\*{8}\n`));
  assert.match(r.stdout, /^EMPTY=$/m);
  assert.match(r.stdout, /Wrote 10 secrets to \.env \(mode 0600\)\n$/);
  assert.deepEqual(lastEvent(home, 'dump').fields, { count: 10, keys: TRICKY.map(([k]) => k), stdout: false, target: '.env' });
  noLeak(home, r.stdout, r.stderr);
});

test('dump then import round-trips tricky values byte for byte', () => {
  const home = initHome();
  storeWith(home);
  const cwd = tempDir();
  assert.equal(lsm(['dump', 'app', 'dev', '-o', 'one.env'], { home, cwd }).code, 0);
  assert.equal(lsm(['import', 'copy', 'dev', 'one.env'], { home, cwd }).code, 0);
  assert.equal(lsm(['dump', 'copy', 'dev', '-o', 'two.env'], { home, cwd }).code, 0);
  assert.ok(readFileSync(join(cwd, 'one.env')).equals(readFileSync(join(cwd, 'two.env'))), 'identical bytes');
  for (const [k, v] of TRICKY) assert.equal(lsm(['get', 'copy', 'dev', k], { home }).stdout, v, k);
  const out = lsm(['dump', 'copy', 'dev', '--stdout'], { home });
  assert.equal(out.code, 0);
  assert.equal(out.stdout, readFileSync(join(cwd, 'one.env'), 'utf8'), '--stdout prints the same text');
  assert.equal(lastEvent(home, 'dump').fields!.stdout, true);
});

test('an existing file is not overwritten without a terminal unless --force; --force resets the mode', () => {
  const home = initHome();
  storeWith(home, 'app', [['K', CANARY]]);
  const cwd = tempDir();
  writeFileSync(join(cwd, '.env'), 'OLD=1\n');
  chmodSync(join(cwd, '.env'), 0o644);
  const r = lsm(['dump', 'app', 'dev'], { home, cwd });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^lsm: \.env already exists; not overwriting it without a terminal to ask on\nhint: pass --force/);
  assert.equal(readFileSync(join(cwd, '.env'), 'utf8'), 'OLD=1\n');
  assert.equal(lastEvent(home, 'dump').outcome, 'error');
  const f = lsm(['dump', 'app', 'dev', '--force'], { home, cwd });
  assert.equal(f.code, 0, f.stderr);
  assert.equal(readFileSync(join(cwd, '.env'), 'utf8'), `K=${CANARY}\n`);
  assert.equal(statSync(join(cwd, '.env')).mode & 0o777, 0o600);
  noLeak(home, r.stderr, f.stdout);
});

test('on a terminal, overwriting asks: no keeps the file, yes replaces it', { skip: !hasScript && 'util-linux script is not installed' }, () => {
  const home = initHome();
  storeWith(home, 'app', [['K', 'new-value']]);
  const cwd = tempDir();
  writeFileSync(join(cwd, '.env'), 'OLD=1\n');
  const no = onTTY(['dump', 'app', 'dev'], home, cwd, 'n\r');
  assert.equal(no.code, 1);
  assert.match(no.out, /\.env already exists\. Overwrite\? \[y\/N\] /);
  assert.match(no.out, /lsm: aborted: \.env was not overwritten/);
  assert.equal(readFileSync(join(cwd, '.env'), 'utf8'), 'OLD=1\n');
  const yes = onTTY(['dump', 'app', 'dev'], home, cwd, 'y\r');
  assert.equal(yes.code, 0, yes.out);
  assert.equal(readFileSync(join(cwd, '.env'), 'utf8'), 'K=new-value\n');
});

test('-o, --stdout and their errors; a missing store and an empty one', () => {
  const home = initHome();
  storeWith(home, 'app', [['K', CANARY]]);
  const cwd = tempDir();
  mkdirSync(join(cwd, 'sub'));
  const o = lsm(['dump', 'app', 'dev', '-o', 'sub/.env.prod'], { home, cwd });
  assert.equal(o.code, 0, o.stderr);
  assert.equal(statSync(join(cwd, 'sub', '.env.prod')).mode & 0o777, 0o600);
  assert.equal(lastEvent(home, 'dump').fields!.target, '.env.prod');
  const s = lsm(['dump', 'app', 'dev', '--stdout'], { home, cwd });
  assert.equal(s.stdout, `K=${CANARY}\n`);
  assert.ok(!existsSync(join(cwd, '.env')), '--stdout writes no file');
  assert.equal(lsm(['dump', 'app', 'dev', '--stdout', '-o', 'x'], { home, cwd }).code, 2);
  const dash = lsm(['dump', 'app', 'dev', '-o', '-'], { home, cwd });
  assert.equal(dash.code, 2);
  assert.match(dash.stderr, /use --stdout/);
  assert.ok(!existsSync(join(cwd, '-')), 'no plaintext file named -');
  assert.equal(lsm(['dump', 'app', 'dev', '-o', 'sub'], { home, cwd }).code, 1);
  // A directory that does not exist: one event, an error, not an ok followed by an error.
  const rowsBefore = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').length;
  const nodir = lsm(['dump', 'app', 'dev', '-o', 'no/such/dir/x.env'], { home, cwd });
  assert.equal(nodir.code, 1);
  assert.match(nodir.stderr, /^lsm: cannot write \S+no\/such\/dir\/x\.env: no such file or directory$/m);
  const added = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').slice(rowsBefore).map((l) => JSON.parse(l));
  assert.deepEqual(added.map((r) => [r.event, r.outcome, r.fields.reason]), [['dump', 'error', 'write_failed']]);
  const missing = lsm(['dump', 'nope', 'dev'], { home, cwd });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no store for nope\/dev/);
  lsm(['set', 'empty', 'dev', 'X', '1'], { home });
  lsm(['delete', 'empty', 'dev', 'X'], { home });
  const empty = lsm(['dump', 'empty', 'dev', '-o', 'empty.env'], { home, cwd });
  assert.equal(empty.code, 0);
  assert.match(empty.stderr, /lsm: no secrets in empty\/dev; nothing written/);
  assert.ok(!existsSync(join(cwd, 'empty.env')));
});

test('inside a git work tree, the file is added to its directory .gitignore unless git ignores it already', { skip: !hasGit && 'git is not installed' }, () => {
  const home = initHome();
  storeWith(home, 'app', [['K', 'v']]);
  const repo = tempDir();
  // A global excludes file on this machine must not decide the outcome.
  const gitHome = tempDir();
  const env = { HOME: gitHome, XDG_CONFIG_HOME: gitHome, GIT_CONFIG_NOSYSTEM: '1' };
  const git = (...a: string[]) => spawnSync('git', ['-C', repo, ...a], { encoding: 'utf8', env: cleanEnv(env) });
  assert.equal(git('init', '-q').status, 0);
  writeFileSync(join(repo, '.gitignore'), 'node_modules');
  const r = lsm(['dump', 'app', 'dev'], { home, cwd: repo, env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Added \/\.env to .*\.gitignore\n$/);
  assert.equal(readFileSync(join(repo, '.gitignore'), 'utf8'), 'node_modules\n/.env\n');
  assert.equal(git('check-ignore', '-q', '.env').status, 0);
  lsm(['dump', 'app', 'dev', '--force'], { home, cwd: repo, env });
  assert.equal(readFileSync(join(repo, '.gitignore'), 'utf8'), 'node_modules\n/.env\n', 'not added twice');
  // A pattern git honours (not a literal line) is recognised.
  writeFileSync(join(repo, '.gitignore'), '.env*\n');
  lsm(['dump', 'app', 'dev', '-o', '.env.local'], { home, cwd: repo, env });
  assert.equal(readFileSync(join(repo, '.gitignore'), 'utf8'), '.env*\n');
  // -o into a subdirectory: that directory's .gitignore.
  mkdirSync(join(repo, 'deploy'));
  lsm(['dump', 'app', 'dev', '-o', 'deploy/prod.env'], { home, cwd: repo, env });
  assert.equal(readFileSync(join(repo, 'deploy', '.gitignore'), 'utf8'), '/prod.env\n');
  assert.equal(git('check-ignore', '-q', 'deploy/prod.env').status, 0);
  // Outside a work tree nothing is created.
  const plain = tempDir();
  lsm(['dump', 'app', 'dev'], { home, cwd: plain, env });
  assert.ok(!existsSync(join(plain, '.gitignore')));
});

test('when the audit event cannot be recorded, no plaintext is written or printed', () => {
  const home = initHome();
  storeWith(home, 'app', [['K', CANARY]]);
  const cwd = tempDir();
  rmSync(join(home, 'audit.jsonl'));
  mkdirSync(join(home, 'audit.jsonl'));
  for (const args of [['dump', 'app', 'dev'], ['dump', 'app', 'dev', '--stdout']]) {
    const r = lsm(args, { home, cwd });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^lsm: cannot record the audit event /);
    assert.equal(r.stdout, '');
  }
  assert.ok(!existsSync(join(cwd, '.env')));
});
