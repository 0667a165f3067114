// The rest of a store's life (remove, unlink, rotate) and the habits of the CLI around
// it: feedback on a terminal, machine-readable listings, completion of key names, errors
// that say what to do. Terminal behaviour runs under script(1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, initHome, lsm, lsmCommand, tempDir } from './helpers.js';
import { readStore, rows } from './fixtures/reliability.js';
import { decrypt } from '../src/age/age.js';
import { resolveHome } from '../src/home.js';
import { loadIdentity } from '../src/identity.js';
import { fileCustody, rotate } from '../src/rotate.js';
import { updateStore } from '../src/store.js';

const hasScript = spawnSync('script', ['--version']).status === 0;

function viaScript(home: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const [node, pre] = lsmCommand();
  const cmd = [node, ...pre, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: cleanEnv({ LSM_DIR: home, ...env }), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    child.stdin.destroy();
    resolve({ code, out: out.replace(/\r/g, '') });
  }));
}

const keyLine = (path: string) => readFileSync(path, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;

test('key rotate: every store re-encrypted to a new key, the old one kept 0600, one event', () => {
  const home = initHome();
  lsm(['set', 'web', 'dev', 'API_KEY', 'canary-rotate-1'], { home });
  lsm(['set', 'web', 'prod', 'DB_URL', 'canary-rotate-2'], { home });
  lsm(['set', 'api', 'dev', 'T', 'x'], { home });
  const before = keyLine(join(home, 'key.txt'));
  const r = lsm(['key', 'rotate'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Rotated the key: 3 stores re-encrypted\nPublic key: age1/);
  const after = keyLine(join(home, 'key.txt'));
  assert.notEqual(after, before);
  const backups = readdirSync(home).filter((n) => /^key\.txt\..*\.bak$/.test(n));
  assert.equal(backups.length, 1);
  assert.equal(statSync(join(home, backups[0])).mode & 0o777, 0o600);
  assert.equal(keyLine(join(home, backups[0])), before, 'the backup holds the old key');
  assert.match(r.stderr, new RegExp(backups[0].replace(/\./g, '\\.')));
  for (const [a, e] of [['web', 'dev'], ['web', 'prod'], ['api', 'dev']]) {
    assert.ok(readStore(home, a, e, after));
    assert.throws(() => readStore(home, a, e, before), `${a}/${e} no longer opens with the old key`);
  }
  assert.equal(lsm(['get', 'web', 'prod', 'DB_URL'], { home }).stdout, 'canary-rotate-2');
  const events = rows(home).filter((x) => x.event === 'key.rotate');
  assert.equal(events.length, 1);
  assert.equal(events[0].fields.stores, 3);
  assert.equal(events[0].fields.backup, backups[0]);
  const log = readFileSync(join(home, 'audit.jsonl'), 'utf8');
  assert.ok(!log.includes('canary-rotate') && !log.includes(after) && !log.includes(before), 'no value and no secret key in the log');
  assert.equal(existsSync(join(home, 'key.rotating')), false);
  assert.match(lsm(['key', 'rotate', '--help'], { home }).stdout, /Examples:\n  \$ lsm key rotate/);
});

test('a rotation stopped half-way: every store opens, commands warn, a set meanwhile stays readable, the next run finishes it without a second event', async () => {
  const home = initHome();
  for (const e of ['a', 'b', 'c', 'd']) lsm(['set', 'app', e, 'K', `v-${e}`], { home });
  const h = resolveHome(home, {});
  const old = await loadIdentity(h);
  const { generateIdentity } = await import('../src/age/age.js');
  const next = generateIdentity();
  const custody = fileCustody(h, () => new Date());
  // Killed after two stores of the first pass: the progress callback throws.
  await assert.rejects(rotate(h, custody, async () => ({ old, next, id: 'feedc0de', started: '2026-01-01T00:00:00Z' }), async () => {
    lsm(['list', 'app', 'a'], { home }); // an event stands in for the rotation's own
  }, (done) => {
    if (done === 2) throw new Error('killed');
  }), /killed/);
  assert.ok(existsSync(join(home, 'key.rotating')));
  assert.equal(statSync(join(home, 'key.rotating')).mode & 0o777, 0o600);
  const g = lsm(['get', 'app', 'd', 'K'], { home });
  assert.equal(g.stdout, 'v-d');
  assert.match(g.stderr, /key rotation is under way or was interrupted.*'lsm key rotate' finishes it/);
  // A writer before the switch encrypts to both keys: the store opens with either.
  assert.equal(lsm(['set', 'app', 'd', 'NEW', 'n'], { home }).code, 0);
  const file = readFileSync(join(home, 'app.d.age'));
  assert.ok(decrypt(file, [old.identity]) && decrypt(file, [next.identity]));
  const eventsBefore = rows(home).length;
  const r = lsm(['key', 'rotate'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Finished the interrupted key rotation started 2026-01-01T00:00:00Z: 4 stores/);
  assert.equal(keyLine(join(home, 'key.txt')), next.identity);
  assert.equal(existsSync(join(home, 'key.rotating')), false);
  for (const e of ['a', 'b', 'c', 'd']) assert.throws(() => readStore(home, 'app', e, old.identity));
  assert.deepEqual(readStore(home, 'app', 'd'), new Map([['K', 'v-d'], ['NEW', 'n']]));
  assert.equal(rows(home).slice(eventsBefore).filter((x) => x.event === 'key.rotate').length, 0, 'finishing records no second rotation');
});

test('a writer that read the old key before the switch writes nothing', async () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  const h = resolveHome(home, {});
  const stale = await loadIdentity(h);
  assert.equal(lsm(['key', 'rotate'], { home }).code, 0);
  await assert.rejects(updateStore(h, { app: 'app', env: 'new' }, stale, (doc) => ({ changed: doc.set('K', 'x') !== 'unchanged', result: 0 })), /was replaced while this command ran/);
  assert.equal(existsSync(join(home, 'app.new.age')), false, 'no store only the old key opens');
});

test('apps rm and envs rm remove stores (asking on a terminal, --force off one); unlink forgets a directory', () => {
  const home = initHome();
  const proj = tempDir('lsm-proj-');
  lsm(['link', 'web'], { home, cwd: proj });
  lsm(['set', 'web', 'dev', 'K', 'v'], { home });
  lsm(['set', 'web', 'prod', 'K', 'v'], { home });
  lsm(['set', 'api', 'dev', 'K', 'v'], { home });
  lsm(['delete', 'api', 'dev', 'K'], { home });
  assert.ok(existsSync(join(home, 'api.dev.age')), 'a store whose last key was deleted stays');
  const refused = lsm(['envs', 'rm', 'api', 'dev'], { home });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /without a terminal to ask on\nhint: pass --force: lsm envs rm api dev --force/);
  assert.ok(existsSync(join(home, 'api.dev.age')));
  const rm = lsm(['envs', 'rm', 'api', 'dev', '--force'], { home });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, 'Removed api/dev\n');
  assert.equal(existsSync(join(home, 'api.dev.age')), false);
  assert.equal(lsm(['envs', 'rm', 'api', 'dev', '--force'], { home }).code, 1);
  const app = lsm(['apps', 'rm', 'web', '--force'], { home });
  assert.equal(app.code, 0, app.stderr);
  assert.match(app.stdout, /^Removed web \(dev, prod\); .* is no longer linked\n$/);
  assert.deepEqual(readdirSync(home).filter((n) => n.endsWith('.age')), []);
  assert.doesNotMatch(readFileSync(join(home, 'config.yaml'), 'utf8'), /web:/);
  const events = rows(home).filter((x) => x.event === 'env.remove').map((x) => `${x.app}/${x.env}`);
  assert.deepEqual(events, ['api/dev', 'web/dev', 'web/prod']);
  assert.equal(lsm(['apps', 'rm', 'web', '--force'], { home }).code, 1);

  lsm(['link', 'site'], { home, cwd: proj });
  const un = lsm(['unlink'], { home, cwd: proj });
  assert.equal(un.code, 0, un.stderr);
  assert.match(un.stdout, /^Unlinked site \(was .*\); its stores are kept\n$/);
  assert.equal(lsm(['list'], { home, cwd: proj }).code, 1, 'the directory no longer names an app');
  const again = lsm(['unlink'], { home, cwd: proj });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /is not linked to an app\nhint: /);
  for (const c of [['apps', 'rm'], ['envs', 'rm'], ['unlink']]) assert.match(lsm([...c, '--help']).stdout, /Examples:\n  \$ /, c.join(' '));
});

test('list, apps and envs: --format json; a store that does not exist is an error', () => {
  const home = initHome();
  lsm(['set', 'web', 'dev', 'B', '1'], { home });
  lsm(['set', 'web', 'dev', 'A', '2'], { home });
  const proj = tempDir('lsm-proj-');
  lsm(['link', 'web'], { home, cwd: proj });
  assert.deepEqual(JSON.parse(lsm(['list', 'web', 'dev', '--format', 'json'], { home }).stdout), { app: 'web', env: 'dev', keys: ['B', 'A'] });
  assert.equal(lsm(['list', 'web', 'dev'], { home }).stdout, 'B\nA\n', 'piped: one name a line, as before');
  assert.deepEqual(JSON.parse(lsm(['apps', '--format', 'json'], { home }).stdout), { apps: [{ app: 'web', envs: ['dev'], linked: proj }] });
  assert.deepEqual(JSON.parse(lsm(['envs', 'web', '--format', 'json'], { home }).stdout), { app: 'web', envs: ['dev'] });
  assert.equal(lsm(['apps', '--format', 'text'], { home }).stdout, `APP  ENVS  LINKED TO\nweb  dev   ${proj}\n`);
  assert.equal(lsm(['list', '--format', 'yaml'], { home }).code, 2);
  const missing = lsm(['list', 'web', 'prdo'], { home });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^lsm: no store for web\/prdo\nhint: 'lsm envs web' lists/);
  assert.equal(rows(home).at(-1).outcome, 'error');
});

test('on a terminal: set says what it did, list and exec too; piped, set is quiet', { skip: !hasScript && 'util-linux script is not installed' }, async () => {
  const home = initHome();
  const added = await viaScript(home, ['set', 'web', 'dev', 'API_KEY', 'canary-tty-value']);
  assert.match(added.out, /^added API_KEY to web\/dev\n$/);
  assert.match((await viaScript(home, ['set', 'web', 'dev', 'API_KEY', 'other-value'])).out, /^changed API_KEY in web\/dev\n$/);
  assert.match((await viaScript(home, ['set', 'web', 'dev', 'API_KEY', 'other-value'])).out, /unchanged/);
  const piped = lsm(['set', 'web', 'dev', 'B', 'x'], { home });
  assert.equal(piped.stdout + piped.stderr, '');
  assert.equal((await viaScript(home, ['list', 'web', 'dev'])).out, 'KEY\nAPI_KEY\nB\n');
  lsm(['set', 'web', 'empty', 'GONE', 'x'], { home });
  lsm(['delete', 'web', 'empty', 'GONE'], { home });
  assert.match((await viaScript(home, ['list', 'web', 'empty'])).out, /^web\/empty has no keys\n$/);
  const ex = await viaScript(home, ['exec', 'web', 'dev', '--no-mask', '--', 'true']);
  assert.match(ex.out, /lsm: injected 2 secrets from web\/dev\n/);
  assert.ok(!ex.out.includes('other-value'));
  assert.match((await viaScript(home, ['apps'])).out, /^APP +ENVS +LINKED TO\nweb +dev,empty +-\n$/);
});

test("exec without '--' says how to write it", () => {
  const home = initHome();
  for (const [args, want] of [
    [['exec', 'npm', 'run', 'dev'], 'lsm exec -- npm run dev'],
    [['exec', 'node', '-v'], 'lsm exec -- node -v'],
    [['exec', '--only', 'A,B', 'node', '-v'], 'lsm exec --only A,B -- node -v'],
    [['-a', 'web', 'exec', 'sh', '-c', 'echo $A'], "lsm -a web exec -- sh -c 'echo $A'"],
  ] as const) {
    const r = lsm([...args], { home });
    assert.equal(r.code, 2, args.join(' '));
    assert.ok(r.stderr.startsWith("lsm: exec needs '--' before the command\nhint: did you mean `" + want + '`?'), r.stderr);
  }
  const one = lsm(['exec', 'npm'], { home });
  assert.equal(one.code, 2);
  assert.match(one.stderr, /^lsm: missing the command to run\nhint: .*did you mean `lsm exec -- npm`\?/);
  assert.equal(lsm(['exec', '--help'], { home }).code, 0);
});

test('before init, set and list say to run init', () => {
  const home = join(tempDir(), 'none');
  for (const args of [['set', 'K', 'v'], ['list'], ['get', 'K']]) {
    const r = lsm(args, { home });
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /no lsm home at .*\nhint: run 'lsm init' first/, args.join(' '));
  }
});

test('a malformed config.yaml is reported even when --app and --env name the store', () => {
  const home = initHome();
  lsm(['set', 'a', 'b', 'K', 'v'], { home });
  writeFileSync(join(home, 'config.yaml'), 'env: dev\napps: [oops\n');
  const r = lsm(['list', '--app', 'a', '--env', 'b'], { home });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config\.yaml:\d+: malformed YAML/);
  const a = lsm(['audit', 'tail', '-n', '1'], { home });
  assert.equal(a.code, 0, 'the log of a home with a broken config stays readable');
  assert.match(a.stderr, /warning: .*malformed YAML/);
  assert.equal(lsm(['version'], { home }).stderr, '');
});

test('lsm init writes a commented policy example; audit show aligns every label', () => {
  const home = initHome();
  const config = readFileSync(join(home, 'config.yaml'), 'utf8');
  assert.match(config, /^# policy:\n#   agent: +\{ "prod\*": reason/m);
  assert.equal(lsm(['get', 'x', 'dev', 'K'], { home, env: { CLAUDECODE: '1', CLAUDE_CODE_SESSION_ID: 'sess-1' } }).code, 1);
  const shown = lsm(['audit', 'show', String(rows(home).at(-1).seq), '--format', 'text'], { home }).stdout;
  const starts = shown.split('\n').filter((l) => /^[a-z_.]+: /.test(l)).map((l) => l.search(/(?<=: *)\S|$/));
  assert.match(shown, /^actor\.agent_session: +sess-1$/m);
  assert.ok(shown.split('\n').filter((l) => /^[a-z_.]+:/.test(l)).every((l) => /^[a-z_.]+: +/.test(l) || /:$/.test(l)), shown);
  assert.equal(new Set(starts.filter((s) => s > 0)).size, 1, `values start in one column:\n${shown}`);
});

test('completion: key names of the resolved store for get, delete and set; each command its own flags', { skip: spawnSync('bash', ['--version']).status !== 0 && 'bash is not installed' }, async () => {
  const home = initHome();
  lsm(['set', 'web', 'prod', 'API_KEY', 'canary-complete'], { home });
  lsm(['set', 'web', 'prod', 'DB_URL', 'v'], { home });
  const bin = tempDir('lsm-bin-');
  const [node, pre] = lsmCommand();
  writeFileSync(join(bin, 'lsm'), `#!/bin/sh\nexec ${[node, ...pre].map((a) => `'${a}'`).join(' ')} "$@"\n`, { mode: 0o755 });
  const script = join(bin, 'lsm.bash');
  writeFileSync(script, lsm(['completion', 'bash']).stdout);
  const complete = (...words: string[]) => spawnSync('bash', ['-c', `source '${script}'; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _lsm; echo "\${COMPREPLY[*]}"`, 'bash', 'lsm', ...words], {
    encoding: 'utf8', env: cleanEnv({ LSM_DIR: home, PATH: `${bin}:${process.env.PATH}` }),
  }).stdout.trim();
  assert.equal(complete('get', 'web', 'prod', ''), 'API_KEY DB_URL');
  assert.equal(complete('delete', '-a', 'web', '-e', 'prod', 'D'), 'DB_URL');
  assert.equal(complete('set', 'web', 'prod', 'A'), 'API_KEY');
  assert.equal(complete('get', '--reason', 'x', 'web', 'prod', 'A'), 'API_KEY');
  assert.equal(complete('get', '--r'), '--reason');
  assert.equal(complete('exec', '--no'), '--no-mask');
  assert.equal(complete('exec', '--on'), '--only');
  assert.equal(complete('list', '--f'), '--format');
  assert.ok(!readFileSync(join(home, 'audit.jsonl'), 'utf8').includes('canary-complete'));
  // Key names stay on the machine: what would be shipped of completion's reads names none.
  const { projectEvent } = await import('../src/audit/redact.js');
  const reads = rows(home).filter((x) => x.event === 'list' && x.fields?.completion);
  assert.ok(reads.length > 0);
  for (const row of reads) assert.ok(!/API_KEY|DB_URL|web|prod/.test(JSON.stringify(projectEvent(row, Buffer.alloc(32), new Date()))));
  for (const sh of ['zsh', 'fish']) assert.match(lsm(['completion', sh]).stdout, /__complete keys --/);
  assert.match(lsm(['completion', 'fish']).stdout, /-l no-mask/);
});

test('canary list --format json', () => {
  const home = initHome();
  assert.equal(lsm(['canary', 'add', 'web', 'prod', 'AWS_SECRET_ACCESS_KEY'], { home }).code, 0);
  const j = JSON.parse(lsm(['canary', 'list', '--format', 'json'], { home }).stdout);
  assert.equal(j.canaries.length, 1);
  assert.deepEqual({ ...j.canaries[0], created: undefined }, { app: 'web', env: 'prod', name: 'AWS_SECRET_ACCESS_KEY', like: 'aws', created: undefined });
  assert.ok(!JSON.stringify(j).includes(lsm(['get', 'web', 'prod', 'AWS_SECRET_ACCESS_KEY'], { home }).stdout));
  assert.deepEqual(JSON.parse(lsm(['canary', 'list', 'api', '--format', 'json'], { home }).stdout), { canaries: [] });
});

test('every error has a hint: a bad .env line, an unknown option or command, an empty prompt', async () => {
  const home = initHome();
  const dir = tempDir();
  writeFileSync(join(dir, 'bad.env'), 'A=1\nJUSTAWORD\n');
  const bad = lsm(['import', 'app', 'dev', join(dir, 'bad.env')], { home });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /bad\.env:2: expected KEY=value\nhint: each line is KEY=value/);
  const opt = lsm(['list', '--bogus'], { home });
  assert.equal(opt.code, 2);
  assert.equal(opt.stderr, "lsm: unknown option '--bogus'\nhint: 'lsm list --help' shows its options and examples\n");
  assert.equal(lsm(['audit', 'tial'], { home }).stderr, "lsm: unknown command 'tial'\nhint: did you mean tail? 'lsm audit --help' shows its options and examples\n");
  if (!hasScript) return;
  const [node, pre] = lsmCommand();
  const cmd = [node, ...pre, '-a', 'app', '-e', 'dev', 'set', 'EMPTY'].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: cleanEnv({ LSM_DIR: home }), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    if (/Value for EMPTY: $/.test(out)) child.stdin.write('\r');
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  child.stdin.destroy();
  assert.equal(code, 2);
  assert.match(out.replace(/\r/g, ''), /lsm: no value entered\nhint: type the value at the prompt, or store an empty one with: lsm set EMPTY ''/);
});
