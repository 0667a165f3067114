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
  assert.match(r.stdout, /^Imported \.env into app\/dev: 3 added, 0 changed, 0 unchanged, 1 comment line\n  \+ API_KEY\n  \+ PORT\n  \+ QUOTED\n/m);
  assert.match(r.stdout, /Reminder: \.env still holds/);
  assert.equal(get(home, 'API_KEY'), CANARY);
  assert.equal(get(home, 'QUOTED'), `say "hi" it's`);
  const { store_sha256: written, ...imported } = lastEvent(home, 'import').fields as Record<string, unknown>;
  assert.match(String(written), /^[0-9a-f]{64}$/); // the ciphertext the write left (#18.4)
  assert.deepEqual(imported, { added: 3, changed: 0, comments: 1, file: '.env', keys: ['API_KEY', 'PORT', 'QUOTED'], unchanged: 0 });
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
  assert.equal(lsm(['link', 'linked'], { home, cwd }).code, 0);
  const r = lsm(['import', '-'], { home, cwd, input: `TOKEN=${CANARY}\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Imported stdin into linked\/staging: 1 added/);
  assert.doesNotMatch(r.stdout, /Reminder/);
  assert.equal(get(home, 'TOKEN', 'linked', 'staging'), CANARY);
  // One positional plus '-': the positional is the app, '-' is never taken as one; the
  // env of .lsm.yaml is the linked app's, not other's.
  const r2 = lsm(['import', 'other', '-'], { home, cwd, input: 'X=1\n' });
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, /^lsm: ignoring 'env: staging' in \S+\.lsm\.yaml: it applies only to the app this directory is linked to \(linked\), not to other\n/);
  assert.equal(get(home, 'X', 'other', 'dev'), '1');
  assert.equal(lastEvent(home, 'import').fields!.file, '-');
  noLeak(home, r.stdout, r.stderr);
});

test('FILE is recognised by shape or count; a plain word that is also a file is ambiguous', () => {
  const home = initHome();
  const cwd = project({ '.lsm.yaml': 'app: proj\nenv: dev\n', 'secrets.env': 'A=1\n', prod: 'B=2\n' });
  assert.equal(lsm(['link', 'proj'], { home, cwd }).code, 0);
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
  assert.match(missing.stderr, /^lsm: cannot read nope\.env: no such file or directory/m);
});

test('a malformed line is reported with file and line, and nothing is imported', () => {
  const home = initHome();
  const cwd = project({ 'bad.env': `GOOD=${CANARY}\nOTHER=2\nthis is not an assignment\n`, 'nul.env': 'A=x\u0000y\n' });
  const r = lsm(['import', 'app', 'dev', 'bad.env'], { home, cwd });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^lsm: bad\.env:3: expected KEY=value\nhint: each line is KEY=value/);
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

test('import keeps comments: into an empty store the file as it is; into a filled one the header and the block above each key', () => {
  const home = initHome();
  const text = `# acme web, local\n# owner: platform team\n\n# Stripe (test mode)\nSTRIPE_KEY=${CANARY}\nexport PORT=8080   # web\n\n# trailing note\n`;
  const cwd = project({ '.env': text, 'more.env': `# header of more\n\n# the new queue\nQUEUE_URL=amqp://q\n# rotated in May\nPORT=9090\n` });
  assert.equal(lsm(['import', 'app', 'dev', './.env'], { home, cwd }).code, 0);
  assert.equal(lsm(['dump', 'app', 'dev', '--stdout'], { home }).stdout, text, 'the file as it is');
  const r = lsm(['import', 'app', 'dev', 'more.env'], { home, cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Imported more\.env into app\/dev: 1 added, 1 changed, 0 unchanged, 3 comment lines\n/);
  assert.equal(lsm(['dump', 'app', 'dev', '--stdout'], { home }).stdout,
    `# acme web, local\n# owner: platform team\n\n# Stripe (test mode)\nSTRIPE_KEY=${CANARY}\n# rotated in May\nexport PORT=9090   # web\n\n# trailing note\n\n# header of more\n# the new queue\nQUEUE_URL=amqp://q\n`);
  // Again: nothing new to carry, nothing changes.
  const again = lsm(['import', 'app', 'dev', 'more.env'], { home, cwd });
  assert.match(again.stdout, /: 0 added, 0 changed, 2 unchanged\n/);
  noLeak(home, r.stdout, r.stderr);
});

test('the reminder after an import is true: clean sees only .env files of its own directory', () => {
  const home = initHome();
  const cwd = project({});
  mkdirSync(join(cwd, 'config'));
  writeFileSync(join(cwd, 'config', '.env'), 'A=1\n');
  writeFileSync(join(cwd, 'secrets.env'), 'B=2\n');
  const away = lsm(['import', 'app', 'dev', 'config/.env'], { home, cwd });
  assert.equal(away.code, 0, away.stderr);
  assert.match(away.stdout, new RegExp(`Reminder: config/\\.env still holds these values in plaintext; 'lsm clean' looks only in the directory it runs in: cd ${join(cwd, 'config')} && lsm clean --app app --env dev\\n$`));
  // What it says works: the file is removed there.
  const clean = lsm(['clean', '--app', 'app', '--env', 'dev', '--force'], { home, cwd: join(cwd, 'config') });
  assert.equal(clean.code, 0, clean.stderr);
  assert.ok(!existsSync(join(cwd, 'config', '.env')));
  const other = lsm(['import', 'app', 'dev', 'secrets.env'], { home, cwd });
  assert.match(other.stdout, /Reminder: secrets\.env still holds these values in plaintext, and 'lsm clean' does not look at it \(only \.env and \.env\.\* files\)/);
  assert.doesNotMatch(other.stdout, /removes it/);
});

test('import .env.production goes into the env the name says, not silently into the default one', () => {
  const home = initHome();
  const cwd = project({ '.env.production': `DB=${CANARY}\n`, '.env.staging': 'S=1\n' });
  assert.equal(lsm(['link', 'web'], { home, cwd }).code, 0);
  // web has a prod env: .env.production means it.
  assert.equal(lsm(['set', '--env', 'prod', 'OLD', 'x'], { home, cwd }).code, 0);
  const r = lsm(['import', './.env.production'], { home, cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^lsm: importing into web\/prod: the file name \.env\.production names that env \(pass --env to choose another\)\n/);
  assert.match(r.stdout, /^Imported \.env\.production into web\/prod: 1 added/);
  assert.equal(lsm(['get', 'web', 'prod', 'DB'], { home }).stdout, CANARY);
  assert.equal(lsm(['list', 'web', 'dev'], { home }).stdout, '', 'nothing went into dev');
  assert.equal(lastEvent(home, 'import').fields!.env_from, 'file_name');
  // No such env yet: the name is taken as it is. An env given wins, with a warning.
  assert.equal(lsm(['import', './.env.staging'], { home, cwd }).code, 0);
  assert.equal(lsm(['get', 'web', 'staging', 'S'], { home }).stdout, '1');
  const given = lsm(['import', '--env', 'dev', './.env.production'], { home, cwd });
  assert.equal(given.code, 0, given.stderr);
  assert.match(given.stderr, /^lsm: warning: importing \.env\.production into web\/dev as given, though its name says env production\n/);
  noLeak(home, r.stdout, r.stderr, given.stdout, given.stderr);
});
