import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, linkSync, openSync, readFileSync, readSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, initHome, lsm, lsmCommand, tempDir, assertNoLeak } from './helpers.ts';

const CANARY = 'canary-0b9e-clean-VALUE-d3a2';
const hasScript = spawnSync('script', ['--version']).status === 0;

const noLeak = (home: string, ...outputs: string[]) => assertNoLeak(CANARY, home, ...outputs);

function lastEvent(home: string): { outcome: string; fields?: Record<string, unknown> } {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === 'clean').at(-1);
}

function onTTY(args: string[], home: string, cwd: string, input: string) {
  const [node, pre] = lsmCommand();
  const cmd = [node, ...pre, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd, input, encoding: 'utf8', timeout: 20000, env: cleanEnv({ LSM_DIR: home }) });
  return { code: r.status, out: String(r.stdout) };
}

const STORE = `API_KEY=${CANARY}\nDB_URL=postgres://db/x\nPADDED='  p  '\n`;

function setup(files: Record<string, string>) {
  const home = initHome();
  assert.equal(lsm(['import', 'app', 'dev', '-'], { home, input: STORE }).code, 0);
  const cwd = tempDir('lsm-proj-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  return { home, cwd };
}

test('only files whose every key has the same value in the store are removed; the rest are explained by name', () => {
  const { home, cwd } = setup({
    '.env': `export DB_URL="postgres://db/x"\nAPI_KEY=${CANARY}\nPADDED="  p  "\n`,
    '.env.local': `API_KEY=${CANARY}-rotated\nDB_URL=postgres://db/x\n`,
    '.env.extra': `API_KEY=${CANARY}\nNEW_ONE=1\n`,
    '.env.example': 'API_KEY=\n',
    'other.txt': 'API_KEY=x\n',
  });
  const r = lsm(['clean', 'app', 'dev', '--force'], { home, cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    'Safe to remove (every value is in app/dev):',
    '  .env  (3 keys, all identical in the store)',
    'Keeping:',
    '  .env.extra  (not in the store: NEW_ONE)',
    '  .env.local  (different value: API_KEY)',
    'Removed .env',
    '',
  ].join('\n'));
  assert.deepEqual(readdirSync(cwd).sort(), ['.env.example', '.env.extra', '.env.local', 'other.txt']);
  assert.deepEqual(lastEvent(home).fields, { kept: ['.env.extra', '.env.local'], removed: ['.env'] });
  noLeak(home, r.stdout, r.stderr);
});

test('the removed file is overwritten with zeros before it is unlinked', () => {
  const text = `API_KEY=${CANARY}\n`;
  const { home, cwd } = setup({ '.env': text });
  // A descriptor held open on the inode shows what happened to its bytes after the unlink.
  const fd = openSync(join(cwd, '.env'), 'r');
  try {
    assert.equal(lsm(['clean', 'app', 'dev', '--force'], { home, cwd }).code, 0);
    assert.ok(!existsSync(join(cwd, '.env')));
    const after = Buffer.alloc(Buffer.byteLength(text) + 1);
    assert.equal(readSync(fd, after, 0, after.length, 0), Buffer.byteLength(text));
    assert.ok(after.subarray(0, -1).every((b) => b === 0), 'all zeros');
  } finally {
    closeSync(fd);
  }
});

test('kept: a file with another hard link, a shadowed duplicate, or a comment that may hold a value', () => {
  const { home, cwd } = setup({
    '.env': `API_KEY=${CANARY}\n# OLD_API_KEY=sk-old-value\n`,
    '.env.dup': `API_KEY=sk-before-rotation\nAPI_KEY=${CANARY}\n`,
    '.env.inline': 'DB_URL=postgres://db/x # prod was: postgres://prod/x\n',
    '.env.linked': `API_KEY=${CANARY}\n`,
    '.env.plain': `API_KEY=${CANARY}\n`,
  });
  // Zeroing a hard-linked file would zero the other name too (here one outside the project).
  const other = join(tempDir(), 'shared.env');
  linkSync(join(cwd, '.env.linked'), other);
  const r = lsm(['clean', 'app', 'dev', '--force'], { home, cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    'Safe to remove (every value is in app/dev):',
    '  .env.plain  (1 key, all identical in the store)',
    'Keeping:',
    '  .env  (a comment may hold a value: line 2)',
    '  .env.dup  (an earlier line holds another value of API_KEY)',
    '  .env.inline  (a comment may hold a value: line 1)',
    '  .env.linked  (1 other hard link: the plaintext would stay there)',
    'Removed .env.plain',
    '',
  ].join('\n'));
  assert.equal(readFileSync(other, 'utf8'), `API_KEY=${CANARY}\n`);
  assert.deepEqual(readdirSync(cwd).sort(), ['.env', '.env.dup', '.env.inline', '.env.linked']);
  noLeak(home, r.stdout, r.stderr);
});

test('without a terminal and without --force nothing is removed (exit 1)', () => {
  const { home, cwd } = setup({ '.env': 'DB_URL=postgres://db/x\n' });
  const r = lsm(['clean', 'app', 'dev'], { home, cwd });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /Safe to remove/);
  assert.match(r.stderr, /^lsm: not removing anything without a terminal to confirm on\nhint: pass --force/);
  assert.ok(existsSync(join(cwd, '.env')));
  assert.equal(lastEvent(home).outcome, 'error');
});

test('on a terminal it lists and asks: no keeps, yes removes', { skip: !hasScript && 'util-linux script is not installed' }, () => {
  const { home, cwd } = setup({ '.env': 'DB_URL=postgres://db/x\n' });
  const no = onTTY(['clean', 'app', 'dev'], home, cwd, 'n\r');
  assert.equal(no.code, 1);
  assert.match(no.out, /Remove \.env\? \[y\/N\] /);
  assert.match(no.out, /lsm: aborted: nothing removed/);
  assert.ok(existsSync(join(cwd, '.env')));
  const yes = onTTY(['c', 'app', 'dev'], home, cwd, 'y\r');
  assert.equal(yes.code, 0, yes.out);
  assert.match(yes.out, /Removed \.env/);
  assert.ok(!existsSync(join(cwd, '.env')));
});

test('files without keys, that do not parse, or are symbolic links are kept; no files is not an error', () => {
  const { home, cwd } = setup({ '.env': '# nothing here\n', '.env.bad': 'DB_URL=postgres://db/x\nnot an assignment\n', 'real.env': 'DB_URL=postgres://db/x\n' });
  symlinkSync(join(cwd, 'real.env'), join(cwd, '.env.link'));
  const r = lsm(['clean', 'app', 'dev', '--force'], { home, cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Keeping:\n  \.env  \(no keys\)\n  \.env\.bad  \(\.env\.bad:2: expected KEY=value\)\n  \.env\.link  \(symbolic link; not followed\)\nNothing to remove\.\n$/);
  assert.deepEqual(readdirSync(cwd).sort(), ['.env', '.env.bad', '.env.link', 'real.env']);
  const empty = lsm(['clean', 'app', 'dev'], { home, cwd: tempDir() });
  assert.equal(empty.code, 0);
  assert.match(empty.stdout, /^No \.env files in /);
});

test('import then clean loses no comment: a file whose comments the store lacks is kept, one imported with them is removed, saying so', () => {
  const home = initHome();
  const cwd = tempDir('lsm-proj-');
  const text = `# myapp local settings\n# (ask Ana for the staging ones)\n\n# payments\nAPI_KEY=${CANARY}  # rotated 2024-05\n\n# database\n# read-only replica\nDB_URL=postgres://db/x\n`;
  // The store already holds these values without the comments: the file is not lost by clean.
  assert.equal(lsm(['import', 'app', 'dev', '-'], { home, input: `API_KEY=${CANARY}\nDB_URL=postgres://db/x\n` }).code, 0);
  writeFileSync(join(cwd, '.env'), text);
  const kept = lsm(['clean', 'app', 'dev', '--force'], { home, cwd });
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stdout, /^Keeping:\n  \.env  \(comments not in the store: line 1, 2, 4, 5, 7, 8; 'lsm import' carries them\)\nNothing to remove\.\n$/);
  assert.equal(readFileSync(join(cwd, '.env'), 'utf8'), text);
  // Importing the file carries its comments into the store; then clean may remove it, and says why.
  const imp = lsm(['import', 'app', 'dev', './.env'], { home, cwd });
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stdout, /0 added, 0 changed, 2 unchanged, 6 comment lines/);
  const stored = lsm(['dump', 'app', 'dev', '--stdout'], { home }).stdout;
  for (const c of ['# myapp local settings', '# (ask Ana for the staging ones)', '# payments', '# database', '# read-only replica']) assert.ok(stored.includes(`${c}\n`), c);
  const gone = lsm(['clean', 'app', 'dev', '--force'], { home, cwd });
  assert.equal(gone.code, 0, gone.stderr);
  assert.match(gone.stdout, /^Safe to remove \(every value is in app\/dev\):\n  \.env  \(2 keys and 6 comments, all identical in the store\)\n/);
  assert.ok(!existsSync(join(cwd, '.env')));
  noLeak(home, kept.stdout, imp.stdout, gone.stdout);
});
