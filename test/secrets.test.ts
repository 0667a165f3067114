import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, truncateSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { initHome, lsm, lsmCommand, tempDir, cleanEnv, assertNoLeak } from './helpers.js';

const CANARY = 'canary-7f3c9e1d-VALUE';
const hasAge = spawnSync('age', ['--version']).status === 0;

const noLeak = (home: string, ...outputs: string[]) => assertNoLeak(CANARY, home, ...outputs);

test('init creates a private home with an age-keygen key and a config', () => {
  const home = join(tempDir(), 'h');
  const r = lsm(['init'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Created key at .*key\.txt\nPublic key: age1[a-z0-9]{58}\n$/);
  assert.equal(statSync(home).mode & 0o777, 0o700);
  assert.equal(statSync(join(home, 'key.txt')).mode & 0o777, 0o600);
  const key = readFileSync(join(home, 'key.txt'), 'utf8');
  assert.match(key, /^# created: \d{4}-\d\d-\d\dT[\d:]+Z\n# public key: age1\w+\nAGE-SECRET-KEY-1[A-Z0-9]+\n$/);
  assert.match(readFileSync(join(home, 'config.yaml'), 'utf8'), /^env: dev$/m);
  const again = lsm(['init'], { home });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^lsm: key already exists at .*\nhint: use --force/);
});

test('init --force keeps the old key as a backup', () => {
  const home = initHome();
  const before = readFileSync(join(home, 'key.txt'), 'utf8');
  const r = lsm(['init', '--force'], { home });
  assert.equal(r.code, 0, r.stderr);
  const backups = readdirSync(home).filter((n) => n.startsWith('key.txt.') && n.endsWith('.bak'));
  assert.equal(backups.length, 1);
  assert.equal(readFileSync(join(home, backups[0]), 'utf8'), before);
  assert.notEqual(readFileSync(join(home, 'key.txt'), 'utf8'), before);
});

test('delete names a missing store or key with a hint; relinking an app elsewhere says where it was', () => {
  const home = initHome();
  const nostore = lsm(['delete', 'nosuch', 'dev', 'K'], { home });
  assert.equal(nostore.code, 1);
  assert.match(nostore.stderr, /^lsm: no store for nosuch\/dev\nhint: /);
  lsm(['set', 'app', 'dev', 'X', '1'], { home });
  const nokey = lsm(['delete', 'app', 'dev', 'K'], { home });
  assert.equal(nokey.code, 1);
  assert.match(nokey.stderr, /^lsm: key K not found in app\/dev\nhint: 'lsm list app dev' shows the keys it has/);
  const [one, two] = [tempDir(), tempDir()];
  assert.equal(lsm(['link', 'web'], { home, cwd: one }).stderr, '');
  const moved = lsm(['link', 'web'], { home, cwd: two });
  assert.equal(moved.code, 0);
  assert.equal(moved.stderr, `lsm: web was linked to ${one}; that directory is no longer linked to it\n`);
  assert.equal(lsm(['link', 'web'], { home, cwd: two }).stderr, '', 'linking again in place says nothing');
  assert.equal(lsm(['dump', 'app', 'dev', '-o', ''], { home }).code, 2);
});

test('a lost key.txt with stores left: the hint says to restore it, and init will not quietly make a new one', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', CANARY], { home });
  const key = readFileSync(join(home, 'key.txt'));
  rmSync(join(home, 'key.txt'));
  const get = lsm(['get', 'app', 'dev', 'K'], { home });
  assert.equal(get.code, 1);
  assert.match(get.stderr, /^lsm: key file not found: \S+\nhint: restore it from your backup: the 1 store file here is encrypted to it/);
  const init = lsm(['init'], { home });
  assert.equal(init.code, 1);
  assert.match(init.stderr, /has no key\.txt but 1 store file, encrypted to the missing key\nhint: restore key\.txt/);
  assert.equal(existsSync(join(home, 'key.txt')), false);
  writeFileSync(join(home, 'key.txt'), key, { mode: 0o600 });
  assert.equal(lsm(['get', 'app', 'dev', 'K'], { home }).stdout, CANARY);
  rmSync(join(home, 'key.txt'));
  const forced = lsm(['init', '--force'], { home });
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /warning: 1 existing store\(s\) were encrypted to the previous key/);
});

test('set and get round-trip tricky values exactly; get adds no newline when piped', () => {
  const home = initHome();
  const values = [CANARY, 'abc #def', '  padded  ', `say "hi" it's`, 'multi\nline\nvalue', 'ünïcødé ✓ 🔑', 'a=b=c', '', '\\n not a newline', '$HOME ${X}'];
  values.forEach((v, i) => {
    // An empty value is given as one: from stdin it would be refused (a failed producer).
    const s = v === '' ? lsm(['set', 'app1', 'dev', `K${i}`, ''], { home }) : lsm(['set', 'app1', 'dev', `K${i}`, '-'], { home, input: `${v}\n` });
    assert.equal(s.code, 0, s.stderr);
  });
  values.forEach((v, i) => {
    const g = lsm(['get', 'app1', 'dev', `K${i}`], { home });
    assert.equal(g.code, 0, g.stderr);
    assert.equal(g.stdout, v);
  });
  const argv = lsm(['set', '-a', 'app1', '-e', 'dev', 'ARGV', 'from argv'], { home });
  assert.equal(argv.code, 0, argv.stderr);
  assert.equal(lsm(['get', '-a', 'app1', '-e', 'dev', 'ARGV'], { home }).stdout, 'from argv');
  const list = lsm(['list', 'app1', 'dev'], { home });
  assert.equal(list.stdout, `${values.map((_, i) => `K${i}`).join('\n')}\nARGV\n`);
  noLeak(home, list.stdout, list.stderr);
});

test('the store is a real age file that the age CLI decrypts with key.txt', { skip: !hasAge && 'the age CLI is not installed' }, () => {
  const home = initHome();
  lsm(['set', 'app1', 'dev', 'API_KEY', CANARY], { home });
  const d = spawnSync('age', ['-d', '-i', join(home, 'key.txt'), join(home, 'app1.dev.age')], { encoding: 'utf8' });
  assert.equal(d.status, 0, d.stderr);
  assert.equal(d.stdout.trim(), `API_KEY=${CANARY}`);
  assert.equal(statSync(join(home, 'app1.dev.age')).mode & 0o777, 0o600);
});

test('errors are one clear line and a hint, with exit codes 1 and 2, never a stack', () => {
  const home = initHome();
  lsm(['set', 'app1', 'dev', 'A', CANARY], { home });
  const cases: [string[], number, RegExp][] = [
    [['get', 'app1', 'dev', 'MISSING'], 1, /^lsm: key MISSING not found in app1\/dev\nhint: 'lsm list app1 dev' shows the keys it has\n$/],
    [['get', 'app1', 'prod', 'A'], 1, /^lsm: no store for app1\/prod\nhint: 'lsm apps' and 'lsm envs <app>' list what exists\n$/],
    [['get', '../../etc', 'dev', 'A'], 2, /^lsm: invalid app name "\.\.\/\.\.\/etc"/],
    [['get', 'app1', 'dev', '1BAD'], 2, /^lsm: invalid key name/],
    [['get', 'a', 'b', 'c', 'KEY'], 2, /^lsm: too many arguments/],
    [['set', 'app.x', 'dev', 'K', 'v'], 2, /^lsm: invalid app name/],
    [['get', 'A'], 1, /^lsm: cannot determine the app\nhint: run 'lsm link <app>'/],
    [['nosuchcommand'], 2, /^lsm: unknown command 'nosuchcommand'/],
  ];
  for (const [args, code, re] of cases) {
    const r = lsm(args, { home, cwd: tempDir() });
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'stack trace');
    noLeak(home, r.stdout, r.stderr);
  }
  assert.deepEqual(readdirSync(home).filter((n) => n.endsWith('.age')).sort(), ['app1.dev.age']);
  // The failed gets are recorded with why: a key the store lacks, or no store at all.
  const gets = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === 'get');
  assert.deepEqual(gets.map((r) => [r.env, r.outcome, r.fields.reason]), [['dev', 'error', 'not_found'], ['prod', 'error', 'no_store']]);
});

test('resolution: link from a subdirectory, .lsm.yaml, default env, flags win', () => {
  const home = initHome();
  const proj = tempDir();
  mkdirSync(join(proj, 'src', 'deep'), { recursive: true });
  assert.equal(lsm(['link', 'web'], { home, cwd: proj }).code, 0);
  assert.equal(lsm(['set', 'K', 'v1'], { home, cwd: join(proj, 'src', 'deep') }).code, 0);
  assert.equal(lsm(['get', 'web', 'dev', 'K'], { home }).stdout, 'v1');
  writeFileSync(join(proj, '.lsm.yaml'), 'app: web\nenv: staging\n');
  assert.equal(lsm(['set', 'K', 'v2'], { home, cwd: proj }).code, 0);
  assert.equal(lsm(['get', 'web', 'staging', 'K'], { home }).stdout, 'v2');
  assert.equal(lsm(['get', '--env', 'dev', '--app', 'web', 'K'], { home, cwd: proj }).stdout, 'v1');
  const apps = lsm(['apps'], { home });
  assert.equal(apps.stdout, 'web\n');
  assert.equal(lsm(['envs', 'web'], { home }).stdout, 'dev\nstaging\n');
});

test('.lsm.yaml cannot point a command at another project: an app only when the directory is linked to it, an env only of the linked app; it says so and is recorded', () => {
  const home = initHome();
  // The owner's other project, with its prod store.
  assert.equal(lsm(['set', 'bank', 'prod', 'DB_PASSWORD', CANARY], { home }).code, 0);
  // A freshly cloned repository (or a file an agent wrote) names that store.
  const clone = tempDir('lsm-clone-');
  writeFileSync(join(clone, '.lsm.yaml'), 'app: bank\nenv: prod\n');
  for (const args of [['get', 'DB_PASSWORD'], ['exec', '--no-mask', '--', 'sh', '-c', 'printf %s "$DB_PASSWORD"'], ['dump', '--stdout']]) {
    const r = lsm(args, { home, cwd: clone });
    assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^lsm: \S+\.lsm\.yaml names app 'bank', but this directory is not linked to any app\nhint: .*run 'lsm link bank' here/, args[0]);
    noLeak(home, r.stdout, r.stderr);
  }
  // Linked to another app: the file cannot switch it to bank either.
  assert.equal(lsm(['link', 'toy'], { home, cwd: clone }).code, 0);
  assert.equal(lsm(['set', 'toy', 'dev', 'DB_PASSWORD', 'toy-value'], { home }).code, 0);
  const other = lsm(['get', 'DB_PASSWORD'], { home, cwd: clone });
  assert.equal(other.code, 1);
  assert.match(other.stderr, /names app 'bank', but this directory is linked to 'toy'/);
  // An env alone is honoured for the linked app only, said on stderr and recorded.
  writeFileSync(join(clone, '.lsm.yaml'), 'env: staging\n');
  assert.equal(lsm(['set', 'toy', 'staging', 'K', 'st'], { home }).code, 0);
  const env = lsm(['get', 'K'], { home, cwd: clone });
  assert.equal(env.code, 0, env.stderr);
  assert.equal(env.stdout, 'st');
  assert.match(env.stderr, /^lsm: toy\/staging: the env chosen by \S+\/\.lsm\.yaml\n$/);
  const ev = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).at(-1);
  assert.equal(ev.event, 'get');
  assert.deepEqual([ev.app, ev.env, ev.fields.project_file, ev.fields.project_chose], ['toy', 'staging', join(clone, '.lsm.yaml'), ['env']]);
  // ...and not for an app named elsewhere: bank's prod is not reached through it.
  writeFileSync(join(clone, '.lsm.yaml'), 'env: prod\n');
  const named = lsm(['get', '--app', 'bank', 'DB_PASSWORD'], { home, cwd: clone });
  assert.equal(named.code, 1);
  assert.match(named.stderr, /^lsm: ignoring 'env: prod' in \S+: it applies only to the app this directory is linked to \(toy\), not to bank\n/);
  noLeak(home, named.stdout, named.stderr);
});

test('names from config.yaml and .lsm.yaml are checked like typed ones; an empty --app or --env is refused, not ignored', () => {
  const home = initHome();
  const proj = tempDir();
  const outside = join(home, '..');
  const config = readFileSync(join(home, 'config.yaml'), 'utf8');
  // A linked app named "../evil" would have put evil.dev.age beside the home.
  writeFileSync(join(home, 'config.yaml'), `${config}apps:\n  "../evil": ${proj}\n`);
  for (const args of [['set', 'K', CANARY], ['get', 'K'], ['apps'], ['link', 'other']]) {
    const r = lsm(args, { home, cwd: proj });
    assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /^lsm: \S+config\.yaml: "\.\.\/evil" is not a valid app name\n/, args[0]);
  }
  assert.deepEqual(readdirSync(outside).filter((n) => n.endsWith('.age')), []);
  writeFileSync(join(home, 'config.yaml'), `${config}apps: [1, 2]\n`);
  const list = lsm(['link', 'web'], { home, cwd: proj });
  assert.equal(list.code, 1);
  assert.match(list.stderr, /'apps' must be a mapping of app name to directory/);
  writeFileSync(join(home, 'config.yaml'), config.replace('env: dev', 'env: ../etc'));
  assert.match(lsm(['get', 'web', 'K'], { home }).stderr, /config\.yaml: "\.\.\/etc" is not a valid env name/);
  writeFileSync(join(home, 'config.yaml'), config);
  writeFileSync(join(proj, '.lsm.yaml'), 'app: ../evil2\n');
  assert.match(lsm(['get', 'K'], { home, cwd: proj }).stderr, /\.lsm\.yaml: "\.\.\/evil2" is not a valid app name/);
  // `-e "$STAGE"` with STAGE unset must not fall back to the default env.
  assert.equal(lsm(['set', 'web', 'dev', 'K', 'v'], { home }).code, 0);
  for (const args of [['get', '-e', '', 'web', 'K'], ['get', '--env=', 'web', 'K'], ['set', '-a', '', 'K', 'v2'], ['get', '-a', '', '-e', 'dev', 'K']]) {
    const r = lsm(args, { home });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, /^lsm: invalid (app|env) name ""/, args.join(' '));
  }
  noLeak(home);
});

test('set KEY or KEY - off a terminal reads the value from stdin, and refuses an empty one rather than blank the secret', () => {
  const home = initHome();
  const proj = tempDir();
  assert.equal(lsm(['link', 'web'], { home, cwd: proj }).code, 0);
  assert.equal(lsm(['set', 'TOKEN', '-'], { home, cwd: proj, input: `${CANARY}\n` }).code, 0);
  for (const input of ['', '\n']) {
    const r = lsm(['set', 'TOKEN'], { home, cwd: proj, input });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^lsm: no value for TOKEN on stdin, and stdin is not a terminal to prompt on\nhint: /);
    assert.equal(lsm(['get', 'TOKEN'], { home, cwd: proj }).stdout, CANARY, 'the secret is kept');
  }
  // `printf %s "$TOKEN" | lsm set TOKEN -` with TOKEN unset, or a producer that failed.
  for (const input of ['', '\n', '\r\n']) {
    const r = lsm(['set', 'TOKEN', '-'], { home, cwd: proj, input });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^lsm: the value for TOKEN read from stdin is empty; nothing was changed\nhint: .*lsm set TOKEN ''/);
    assert.equal(lsm(['get', 'TOKEN'], { home, cwd: proj }).stdout, CANARY, 'the secret is kept');
  }
  const piped = lsm(['set', 'TOKEN'], { home, cwd: proj, input: 'new-value\n' });
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(lsm(['get', 'TOKEN'], { home, cwd: proj }).stdout, 'new-value');
  // An empty value is stored only when given as one.
  assert.equal(lsm(['set', 'TOKEN', ''], { home, cwd: proj }).code, 0);
  assert.equal(lsm(['get', 'TOKEN'], { home, cwd: proj }).stdout, '');
});

test('stdout that cannot be written (/dev/full) is an error that says so, exit 1, not a crash', { skip: !existsSync('/dev/full') && 'no /dev/full' }, () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', CANARY], { home });
  const [node, pre] = lsmCommand();
  for (const args of [['get', 'app', 'dev', 'K'], ['list', 'app', 'dev'], ['version'], ['dump', 'app', 'dev', '--stdout']]) {
    const r = spawnSync('sh', ['-c', '"$@" > /dev/full', 'sh', node, ...pre, ...args], { env: cleanEnv({ LSM_DIR: home }), encoding: 'utf8' });
    assert.equal(r.status, 1, `${args[0]}: ${r.stderr}`);
    assert.equal(r.stderr, 'lsm: cannot write to stdout: no space left on device\n', args[0]);
  }
});

test('an argument where a key goes is not repeated in the error: it may be a value', () => {
  const home = initHome();
  for (const args of [['set', `API_KEY=${CANARY}`], ['get', 'app', 'dev', `API_KEY=${CANARY}`], ['get', 'app', 'dev', `${CANARY}`], ['delete', 'app', 'dev', `x.${CANARY}`]]) {
    const r = lsm(args, { home, cwd: tempDir() });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^lsm: invalid key name/);
    noLeak(home, r.stdout, r.stderr);
  }
  assert.match(lsm(['set', `API_KEY=${CANARY}`], { home }).stderr, /KEY=VALUE is not a form lsm takes\nhint: pass the value as its own argument/);
  // The ambiguous form names the store, never the last argument (a value, or a key).
  lsm(['set', 'myapp', 'dev', 'K', 'v'], { home });
  const amb = lsm(['set', 'myapp', CANARY], { home, cwd: tempDir() });
  assert.equal(amb.code, 2);
  noLeak(home, amb.stdout, amb.stderr);
  const three = lsm(['set', 'myapp', 'dev', 'K2'], { home, cwd: tempDir(), input: CANARY });
  assert.equal(three.code, 2);
  assert.match(three.stderr, /^lsm: ambiguous: "dev" is an app or env name, so this would store a key named "dev"/);
  assert.match(three.stderr, /lsm set myapp dev KEY - {4}\(the value on stdin\)/);
  noLeak(home, three.stdout, three.stderr);
});

test('an ambiguous set is refused instead of storing the wrong key', () => {
  const home = initHome();
  lsm(['set', 'myapp', 'dev', 'K', 'v'], { home });
  const r = lsm(['set', 'myapp', 'KEY'], { home, cwd: tempDir() });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ambiguous/);
  assert.equal(lsm(['list', 'myapp', 'dev'], { home }).stdout, 'K\n');
});

test('a loose key file, a wrong key and a corrupt store each get their own message', () => {
  const home = initHome();
  lsm(['set', 'app1', 'dev', 'A', CANARY], { home });
  chmodSync(join(home, 'key.txt'), 0o644);
  let r = lsm(['get', 'app1', 'dev', 'A'], { home });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /key file .*key\.txt has mode 0644 .*refusing.*\nhint: run 'chmod 600 /);
  chmodSync(join(home, 'key.txt'), 0o600);

  const other = initHome();
  writeFileSync(join(other, 'app1.dev.age'), readFileSync(join(home, 'app1.dev.age')), { mode: 0o600 });
  r = lsm(['get', 'app1', 'dev', 'A'], { home: other });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot decrypt .*app1\.dev\.age: it was not encrypted to the key in this lsm home/);

  truncateSync(join(home, 'app1.dev.age'), statSync(join(home, 'app1.dev.age')).size - 5);
  r = lsm(['get', 'app1', 'dev', 'A'], { home });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot decrypt .*: the file is corrupt or truncated/);

  const none = join(tempDir(), 'none');
  r = lsm(['get', 'app1', 'dev', 'A'], { home: none });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no lsm home at .*none\nhint: run 'lsm init' first/);
  noLeak(home, r.stderr);
});

test('a symlinked store file is refused', () => {
  const home = initHome();
  lsm(['set', 'real', 'dev', 'A', 'x'], { home });
  symlinkSync(join(home, 'real.dev.age'), join(home, 'link.dev.age'));
  const r = lsm(['get', 'link', 'dev', 'A'], { home });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is a symbolic link; refusing/);
});

test('a malformed config.yaml is an error naming the file and line', () => {
  const home = initHome();
  writeFileSync(join(home, 'config.yaml'), 'env: dev\napps:\n  a: [unclosed\n');
  const r = lsm(['get', 'A'], { home, cwd: tempDir() });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config\.yaml:\d+: malformed YAML/);
});

test('a home made by the original Go lsm works and link keeps its comments and indentation', () => {
  const home = initHome();
  const key = readFileSync(join(home, 'key.txt'), 'utf8').split('\n');
  // The original's header, and its yaml.v3 4-space style with a user comment.
  writeFileSync(join(home, 'key.txt'), `# created by lsm\n${key[1]}\n${key[2]}\n`, { mode: 0o600 });
  writeFileSync(join(home, 'config.yaml'), 'env: dev\n# my projects\napps:\n    old: /srv/old # keep me\n', { mode: 0o600 });
  const proj = tempDir();
  assert.equal(lsm(['link', 'fresh'], { home, cwd: proj }).code, 0);
  const config = readFileSync(join(home, 'config.yaml'), 'utf8');
  assert.match(config, /# my projects\napps:\n {4}old: \/srv\/old # keep me\n {4}fresh: /);
  assert.equal(lsm(['set', 'K', 'v'], { home, cwd: proj }).code, 0);
  assert.equal(lsm(['get', 'fresh', 'dev', 'K'], { home }).stdout, 'v');
});

test('16 processes setting different keys at once leave all 16', async () => {
  const home = initHome();
  const [cmd, pre] = lsmCommand();
  const runs = Array.from({ length: 16 }, (_, i) => new Promise<number | null>((resolve) => {
    const p = spawn(cmd, [...pre, 'set', 'conc', 'dev', `KEY_${i}`, `value-${i}`], { env: cleanEnv({ LSM_DIR: home }), stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('exit', resolve);
  }));
  assert.deepEqual(await Promise.all(runs), Array(16).fill(0));
  const keys = lsm(['list', 'conc', 'dev'], { home }).stdout.trim().split('\n').sort();
  assert.deepEqual(keys, Array.from({ length: 16 }, (_, i) => `KEY_${i}`).sort());
  for (let i = 0; i < 16; i++) assert.equal(lsm(['get', 'conc', 'dev', `KEY_${i}`], { home }).stdout, `value-${i}`);
});

test('bash completion: subcommands of audit and canary, app names from the home named by --dir on the line', { skip: spawnSync('bash', ['--version']).status !== 0 && 'bash is not installed' }, () => {
  const home = initHome();
  const other = initHome();
  lsm(['set', 'web', 'prod', 'K', 'v'], { home });
  lsm(['set', 'api', 'staging', 'K', 'v'], { home: other });
  const bin = tempDir('lsm-bin-');
  const [node, pre] = lsmCommand();
  writeFileSync(join(bin, 'lsm'), `#!/bin/sh\nexec ${[node, ...pre].map((a) => `'${a}'`).join(' ')} "$@"\n`, { mode: 0o755 });
  const script = join(bin, 'lsm.bash');
  writeFileSync(script, lsm(['completion', 'bash']).stdout);
  const complete = (...words: string[]) => spawnSync('bash', ['-c', `source '${script}'; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _lsm; echo "\${COMPREPLY[*]}"`, 'bash', 'lsm', ...words], {
    encoding: 'utf8', env: cleanEnv({ LSM_DIR: home, PATH: `${bin}:${process.env.PATH}` }),
  }).stdout.trim();
  assert.equal(complete('audit', ''), 'tail show query verify ship suspicious report stats seal');
  assert.equal(complete('canary', 'r'), 'remove');
  assert.equal(complete('ge'), 'get');
  assert.equal(complete('get', '-a', ''), 'web');
  assert.equal(complete('-d', other, 'get', '-a', ''), 'api');
  assert.equal(complete('get', ''), 'web prod');
});

test('version, completion and help with examples on every command', () => {
  const v = lsm(['--version']);
  assert.match(v.stdout, /^lsm \d+\.\d+\.\d+/);
  assert.match(lsm(['version']).stdout, /^lsm \d+\.\d+\.\d+\n(.*\n)*  os\/arch: /);
  for (const sh of ['bash', 'zsh', 'fish']) {
    const c = lsm(['completion', sh]);
    assert.equal(c.code, 0);
    assert.match(c.stdout, /lsm (\S+ )?__complete apps/);
    assert.match(c.stdout, /\bget\b/);
  }
  assert.equal(lsm(['completion', 'tcsh']).code, 2);
  // fish expands $VAR inside double quotes: descriptions are single-quoted.
  assert.match(lsm(['completion', 'fish']).stdout, /-a edit -d 'edit a store in \$VISUAL, \$EDITOR or vi'/);
  const help = lsm(['--help']);
  const names = [...help.stdout.matchAll(/^  ([a-z][\w-]*)(?:\|\w+)?\b/gm)].map((m) => m[1]).filter((n) => n !== 'help');
  assert.ok(names.includes('get') && names.includes('set'));
  // Every command the top-level help lists, so a new one without examples fails here.
  assert.ok(names.length >= 15, names.join(' '));
  for (const name of names) {
    const h = lsm([name, '--help']);
    assert.equal(h.code, 0, name);
    assert.match(h.stdout, /Examples:\n  \$ /, name);
  }
});

test('set prod KEY val, where prod is an env of the linked app and no app, is refused as ambiguous with both readings', () => {
  const home = initHome();
  const proj = tempDir();
  assert.equal(lsm(['link', 'web'], { home, cwd: proj }).code, 0);
  assert.equal(lsm(['set', '--env', 'prod', 'K', 'v'], { home, cwd: proj }).code, 0);
  const r = lsm(['set', 'prod', 'API_KEY', CANARY], { home, cwd: proj });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^lsm: ambiguous: "prod" is an env name and no app, so this would create an app named "prod"\n/);
  assert.match(r.stderr, /to set API_KEY in env prod of this directory's app:\n  lsm set --env prod API_KEY -/);
  assert.match(r.stderr, /to create the app prod:\n  lsm set --app prod API_KEY -/);
  assert.ok(!existsSync(join(home, 'prod.dev.age')), 'no app named prod');
  assert.equal(lsm(['apps'], { home }).stdout, 'web\n');
  noLeak(home, r.stdout, r.stderr);
  // The readings it names work; an app that exists is taken as the app.
  assert.equal(lsm(['set', '--env', 'prod', 'API_KEY', '-'], { home, cwd: proj, input: CANARY }).code, 0);
  assert.equal(lsm(['get', 'web', 'prod', 'API_KEY'], { home }).stdout, CANARY);
  assert.equal(lsm(['set', '--app', 'prod', 'X', '1'], { home, cwd: proj }).code, 0);
  assert.equal(lsm(['set', 'prod', 'Y', '2'], { home, cwd: proj }).code, 0);
  assert.equal(lsm(['get', 'prod', 'dev', 'Y'], { home }).stdout, '2');
});
