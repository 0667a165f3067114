import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initHome, lsm, tempDir, assertNoLeak } from './helpers.ts';

const CANARY = 'canary-91d4-import-VALUE-c0fe';

const noLeak = (home: string, ...outputs: string[]) => assertNoLeak(CANARY, home, ...outputs);

function lastEvent(home: string, name: string): { outcome: string; fields?: Record<string, unknown> } {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === name).at(-1);
}

function project(files: Record<string, string>): string {
  const dir = tempDir('lsm-proj-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const get = (home: string, key: string, app = 'app', env = 'dev') => lsm(['get', app, env, key], { home }).stdout;

test('with no FILE, the one .env of the cwd is read; templates are skipped; counts and names only', () => {
  const home = initHome();
  const cwd = project({
    '.env': `API_KEY=${CANARY}\nPORT=8080\nexport QUOTED="say \\"hi\\" it's"\n# a comment\n`,
    '.env.example': 'API_KEY=changeme\n',
    '.env.sample': 'X=1\n',
    '.env.template': 'X=1\n',
  });
  const r = lsm(['import', 'app', 'dev'], { home, cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n')[0], 'Reading .env');
  assert.match(r.stdout, /^Imported \.env into app\/dev: 3 added, 0 changed, 0 unchanged\n  \+ API_KEY\n  \+ PORT\n  \+ QUOTED\n/m);
  assert.match(r.stdout, /Reminder: \.env still holds/);
  assert.equal(get(home, 'API_KEY'), CANARY);
  assert.equal(get(home, 'QUOTED'), `say "hi" it's`);
  const { store_sha256: written, ...imported } = lastEvent(home, 'import').fields as Record<string, unknown>;
  assert.match(String(written), /^[0-9a-f]{64}$/); // the ciphertext the write left (#18.4)
  assert.deepEqual(imported, { added: 3, changed: 0, file: '.env', keys: ['API_KEY', 'PORT', 'QUOTED'], unchanged: 0 });
  noLeak(home, r.stdout, r.stderr);
});

test('several .env files: refused with the list; none: a clear error; only templates count as none', () => {
  const home = initHome();
  const many = lsm(['import', 'app', 'dev'], { home, cwd: project({ '.env': 'A=1\n', '.env.local': 'B=2\n', '.env.production': 'C=3\n' }) });
  assert.equal(many.code, 2);
  assert.match(many.stderr, /^lsm: found 3 \.env files here \(\.env, \.env\.local, \.env\.production\); which one\?\nhint: name it: /);
  const none = lsm(['import', 'app', 'dev'], { home, cwd: project({ '.env.example': 'A=1\n' }) });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^lsm: no \.env files in /);
  assert.equal(lsm(['list', 'app', 'dev'], { home }).stdout, '');
});

test('merge keeps the place of existing keys and reports added, changed and unchanged', () => {
  const home = initHome();
  const cwd = project({ 'first.env': 'A=1\nB=2\nC=3\n', 'second.env': `C=3\nB=changed\nD=${CANARY}\n` });
  assert.equal(lsm(['import', 'app', 'dev', 'first.env'], { home, cwd }).code, 0);
  const r = lsm(['import', 'app', 'dev', 'second.env'], { home, cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Imported second\.env into app\/dev: 1 added, 1 changed, 1 unchanged\n  \+ D\n  ~ B\n/);
  assert.equal(lsm(['list', 'app', 'dev'], { home }).stdout, 'A\nB\nC\nD\n');
  assert.equal(get(home, 'B'), 'changed');
  noLeak(home, r.stdout, r.stderr);
});

test('--dry-run lists + ~ = by name, writes nothing, and is recorded', () => {
  const home = initHome();
  const cwd = project({ 'a.env': 'SAME=1\nDIFF=old\n', 'b.env': `SAME=1\nDIFF=new\nNEW=${CANARY}\n` });
  lsm(['import', 'app', 'dev', 'a.env'], { home, cwd });
  const store = readFileSync(join(home, 'app.dev.age'));
  const r = lsm(['import', '--dry-run', 'app', 'dev', 'b.env'], { home, cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '= SAME\n~ DIFF\n+ NEW\nDry run for app/dev: 1 added, 1 changed, 1 unchanged; nothing was written.\n');
  assert.ok(readFileSync(join(home, 'app.dev.age')).equals(store), 'store untouched');
  const ev = lastEvent(home, 'import');
  assert.equal(ev.fields!.dry_run, true);
  noLeak(home, r.stdout, r.stderr);
});

test('stdin with -: `cat .env | lsm import -` resolves app and env as usual', () => {
  const home = initHome();
  const cwd = project({ '.lsm.yaml': 'app: linked\nenv: staging\n' });
  const r = lsm(['import', '-'], { home, cwd, input: `TOKEN=${CANARY}\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Imported stdin into linked\/staging: 1 added/);
  assert.doesNotMatch(r.stdout, /Reminder/);
  assert.equal(get(home, 'TOKEN', 'linked', 'staging'), CANARY);
  // One positional plus '-': the positional is the app, '-' is never taken as one.
  const r2 = lsm(['import', 'other', '-'], { home, cwd, input: 'X=1\n' });
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(get(home, 'X', 'other', 'staging'), '1');
  assert.equal(lastEvent(home, 'import').fields!.file, '-');
  noLeak(home, r.stdout, r.stderr);
});

test('FILE is recognised by shape or count; a plain word that is also a file is ambiguous', () => {
  const home = initHome();
  const cwd = project({ '.lsm.yaml': 'app: proj\nenv: dev\n', 'secrets.env': 'A=1\n', prod: 'B=2\n' });
  mkdirSync(join(cwd, 'cfg'));
  writeFileSync(join(cwd, 'cfg', 'x.env'), 'C=3\n');
  assert.equal(lsm(['import', 'secrets.env'], { home, cwd }).code, 0);
  assert.equal(get(home, 'A', 'proj', 'dev'), '1');
  assert.equal(lsm(['import', 'cfg/x.env'], { home, cwd }).code, 0);
  assert.equal(get(home, 'C', 'proj', 'dev'), '3');
  // Three arguments: app env FILE, even when FILE looks like a name.
  assert.equal(lsm(['import', 'proj', 'dev', 'prod'], { home, cwd }).code, 0);
  assert.equal(get(home, 'B', 'proj', 'dev'), '2');
  const amb = lsm(['import', 'proj', 'prod'], { home, cwd });
  assert.equal(amb.code, 2);
  assert.match(amb.stderr, /^lsm: ambiguous: "prod" is a file here/);
  assert.equal(lsm(['import', './prod'], { home, cwd }).code, 0);
  const missing = lsm(['import', 'nope.env'], { home, cwd });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^lsm: cannot read nope\.env: no such file or directory/);
});

test('a malformed line is reported with file and line, and nothing is imported', () => {
  const home = initHome();
  const cwd = project({ 'bad.env': `GOOD=${CANARY}\nOTHER=2\nthis is not an assignment\n`, 'nul.env': 'A=x\u0000y\n' });
  const r = lsm(['import', 'app', 'dev', 'bad.env'], { home, cwd });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'lsm: bad.env:3: expected KEY=value\n');
  assert.equal(lsm(['list', 'app', 'dev'], { home }).stdout, '');
  assert.ok(!existsSync(join(home, 'app.dev.age')));
  const nul = lsm(['import', 'app', 'dev', 'nul.env'], { home, cwd });
  assert.equal(nul.code, 1);
  assert.match(nul.stderr, /nul\.env: the value of A contains a NUL byte/);
  const bin = lsm(['import', 'app', 'dev', '-'], { home, input: Buffer.from([0x41, 0x3d, 0xff, 0xfe, 0x0a]) });
  assert.equal(bin.code, 1);
  assert.match(bin.stderr, /<stdin> is not UTF-8 text/);
  assert.equal(lastEvent(home, 'import').outcome, 'error');
  noLeak(home, r.stderr);
});

test('too many arguments and an invalid app are refused before anything is read', () => {
  const home = initHome();
  const cwd = project({ '.env': 'A=1\n' });
  assert.equal(lsm(['import', 'a', 'b', 'c', 'd'], { home, cwd }).code, 2);
  assert.equal(lsm(['-a', 'x', '-e', 'y', 'import', 'z', '.env'], { home, cwd }).code, 2);
  const both = lsm(['-a', 'x', '-e', 'y', 'import', '.env'], { home, cwd });
  assert.equal(both.code, 0, both.stderr);
  assert.equal(get(home, 'A', 'x', 'y'), '1');
});
