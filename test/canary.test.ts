import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initHome, lsm, lsmCommand, tempDir } from './helpers.js';
import { CANARY_READ, KINDS, generate, guessKind } from '../src/canary.js';
import { CANARY_EVENT } from '../src/audit/detectors.js';
import { Receiver } from './fixtures/otlp/receiver.js';
import { enableShipping, shipperGone, waitFor, sleep } from './fixtures/otlp/ship-env.js';

const REAL = 'real-database-url-7c1e-VALUE';

function rows(home: string): { seq: number; event: string; outcome: string; app?: string; env?: string; fields?: Record<string, unknown> }[] {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}
const reads = (home: string) => rows(home).filter((r) => r.event === 'canary.read');

/** A home with one real secret and one canary in app/prod. */
function withCanary(name = 'AWS_SECRET_ACCESS_KEY'): { home: string } {
  const home = initHome();
  assert.equal(lsm(['set', 'app', 'prod', 'DATABASE_URL', REAL], { home }).code, 0);
  const add = lsm(['canary', 'add', 'app', 'prod', name], { home });
  assert.equal(add.code, 0, add.stderr);
  return { home };
}

test('generated values have the real formats', () => {
  const formats: Record<string, RegExp> = {
    aws: /^AKIA[A-Z2-7]{16}$/,
    stripe: /^sk_live_[A-Za-z0-9]{24}$/,
    github: /^ghp_[A-Za-z0-9]{36}$/,
    generic: /^[A-Za-z0-9]{32}$/,
  };
  for (const kind of KINDS) {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const v = generate(kind, 'SOME_KEY');
      assert.match(v, formats[kind]);
      seen.add(v);
    }
    assert.equal(seen.size, 50, `${kind} values are random`);
  }
  assert.match(generate('aws', 'AWS_SECRET_ACCESS_KEY'), /^[A-Za-z0-9+/]{40}$/);
  assert.equal(guessKind('AWS_ACCESS_KEY_ID'), 'aws');
  assert.equal(guessKind('STRIPE_SECRET_KEY'), 'stripe');
  assert.equal(guessKind('GITHUB_TOKEN'), 'github');
  assert.equal(guessKind('GH_TOKEN'), 'github');
  assert.equal(guessKind('OPENAI_API_KEY'), 'generic');
  assert.equal(CANARY_READ, CANARY_EVENT, 'the event the suspicious detector looks for');
});

test('canary add, list and remove; the registry is 0600 and holds no value', () => {
  const home = initHome();
  assert.equal(lsm(['set', 'app', 'prod', 'DATABASE_URL', REAL], { home }).code, 0);
  const add = lsm(['canary', 'add', 'app', 'prod', 'STRIPE_LIVE_KEY'], { home });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /^Added canary STRIPE_LIVE_KEY to app\/prod \(stripe\)/);
  assert.equal(lsm(['canary', 'add', 'app', 'dev', 'TOKEN', '--like', 'github'], { home }).code, 0);
  assert.deepEqual(lsm(['list', 'app', 'prod'], { home }).stdout.split('\n').filter(Boolean), ['DATABASE_URL', 'STRIPE_LIVE_KEY'], 'a canary looks like any key');

  const path = join(home, 'canaries.json');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const registry = JSON.parse(readFileSync(path, 'utf8'));
  assert.deepEqual(registry.canaries.map((c: any) => Object.keys(c).sort()), [['app', 'created', 'env', 'like', 'name'], ['app', 'created', 'env', 'like', 'name']]);
  assert.ok(!readFileSync(path, 'utf8').includes('sk_live_'));

  const list = lsm(['canary', 'list'], { home });
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^app\s+prod\s+STRIPE_LIVE_KEY\s+stripe\s+\d{4}-/m);
  assert.match(list.stdout, /^app\s+dev\s+TOKEN\s+github\s+/m);
  assert.equal(lsm(['canary', 'list', 'app', 'dev'], { home }).stdout.split('\n').filter(Boolean).length, 1);

  // A canary never replaces a secret; a bad kind is a usage error.
  const clash = lsm(['canary', 'add', 'app', 'prod', 'DATABASE_URL'], { home });
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /DATABASE_URL already exists in app\/prod; a canary never replaces a secret/);
  assert.equal(lsm(['canary', 'add', 'app', 'prod', 'X_KEY', '--like', 'gitlab'], { home }).code, 2);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).canaries.length, 2);

  const rm = lsm(['canary', 'remove', 'app', 'prod', 'STRIPE_LIVE_KEY'], { home });
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(lsm(['list', 'app', 'prod'], { home }).stdout, 'DATABASE_URL\n', 'the decoy is gone from the store');
  assert.equal(lsm(['canary', 'remove', 'app', 'prod', 'DATABASE_URL'], { home }).code, 1, 'a real secret is not a canary');
  assert.equal(lsm(['get', 'app', 'prod', 'DATABASE_URL'], { home }).stdout, REAL);
  assert.deepEqual(rows(home).filter((r) => r.event.startsWith('canary.')).map((r) => `${r.event}:${r.outcome}`),
    ['canary.add:ok', 'canary.add:ok', 'canary.list:ok', 'canary.list:ok', 'canary.remove:ok', 'canary.remove:error']);
  assert.deepEqual(reads(home), [], 'managing canaries reads none');
});

test('get of a canary records canary.read, and audit suspicious flags it with reason canary', () => {
  const { home } = withCanary();
  const r = lsm(['get', 'app', 'prod', 'AWS_SECRET_ACCESS_KEY'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^[A-Za-z0-9+/]{40}$/);
  const ev = reads(home);
  assert.equal(ev.length, 1);
  assert.deepEqual({ app: ev[0].app, env: ev[0].env, outcome: ev[0].outcome, fields: ev[0].fields }, {
    app: 'app', env: 'prod', outcome: 'ok', fields: { key: 'AWS_SECRET_ACCESS_KEY', command: 'get' },
  });
  assert.ok(!readFileSync(join(home, 'audit.jsonl'), 'utf8').includes(r.stdout), 'the value is never in the log');
  // A read of a real secret is not a canary read.
  lsm(['get', 'app', 'prod', 'DATABASE_URL'], { home });
  assert.equal(reads(home).length, 1);

  const sus = lsm(['audit', 'suspicious', '--format', 'json'], { home });
  assert.equal(sus.code, 0, sus.stderr);
  const flagged = sus.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((f) => f.reasons.includes('canary'));
  assert.equal(flagged.length, 1);
  assert.equal(flagged[0].event.event, 'canary.read');
});

test('an enumerating script (for k in $(lsm list); do lsm get $k; done) trips the canary', () => {
  const { home } = withCanary('GITHUB_TOKEN');
  const [node, pre] = lsmCommand();
  const script = 'lsm() { "$LSM_NODE" $LSM_PRE "$@"; }\nfor k in $(lsm list app prod); do lsm get app prod "$k" > /dev/null; done\n';
  const run = spawnSync('sh', ['-c', script], { env: { ...process.env, LSM_DIR: home, LSM_NODE: node, LSM_PRE: pre.join(' ') }, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const ev = reads(home);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].fields!.key, 'GITHUB_TOKEN');
  assert.deepEqual(rows(home).filter((x) => x.event === 'get').map((x) => x.fields!.key), ['DATABASE_URL', 'GITHUB_TOKEN']);
});

test('an agent refused by the policy still leaves a canary.read, with outcome denied', () => {
  const { home } = withCanary();
  const r = lsm(['get', 'app', 'prod', 'AWS_SECRET_ACCESS_KEY'], { home, env: { CLAUDECODE: '1' } });
  assert.equal(r.code, 4);
  assert.equal(r.stdout, '');
  const ev = reads(home);
  assert.deepEqual(ev.map((e) => [e.outcome, e.fields!.command]), [['denied', 'get']]);
});

test("dump leaves canaries out unless --with-canaries: the owner's .env and backups raise no alarm", () => {
  const { home } = withCanary();
  const cwd = tempDir('lsm-proj-');
  const file = lsm(['dump', 'app', 'prod', '-o', '.env'], { home, cwd });
  assert.equal(file.code, 0, file.stderr);
  assert.equal(readFileSync(join(cwd, '.env'), 'utf8'), `DATABASE_URL=${REAL}\n`);
  assert.match(file.stdout, /Wrote 1 secret to \.env/);
  assert.doesNotMatch(file.stdout + file.stderr, /AWS_SECRET_ACCESS_KEY|canar/i, 'nothing tells the reader which key is the decoy');
  const out = lsm(['dump', 'app', 'prod', '--stdout'], { home });
  assert.equal(out.stdout, `DATABASE_URL=${REAL}\n`);
  assert.deepEqual(reads(home), [], 'no canary.read against the owner');
  assert.deepEqual(rows(home).filter((r) => r.event === 'dump').map((r) => r.fields!.keys), [['DATABASE_URL'], ['DATABASE_URL']]);
  const asked = lsm(['dump', 'app', 'prod', '--stdout', '--with-canaries'], { home });
  assert.match(asked.stdout, /^AWS_SECRET_ACCESS_KEY=/m);
  assert.deepEqual(reads(home).map((e) => e.fields!.command), ['dump']);
});

test('dump --with-canaries and edit reveal every canary of the store: one canary.read each', () => {
  const { home } = withCanary();
  assert.equal(lsm(['canary', 'add', 'app', 'prod', 'STRIPE_KEY'], { home }).code, 0);
  const dump = lsm(['dump', 'app', 'prod', '--stdout', '--with-canaries'], { home });
  assert.equal(dump.code, 0, dump.stderr);
  assert.deepEqual(reads(home).map((e) => [e.fields!.key, e.fields!.command]), [['AWS_SECRET_ACCESS_KEY', 'dump'], ['STRIPE_KEY', 'dump']]);
  const edit = lsm(['edit', 'app', 'prod'], { home, env: { EDITOR: 'true', VISUAL: '' } });
  assert.equal(edit.code, 0, edit.stderr);
  assert.deepEqual(reads(home).slice(2).map((e) => [e.fields!.key, e.fields!.command]), [['AWS_SECRET_ACCESS_KEY', 'edit'], ['STRIPE_KEY', 'edit']]);
  const log = readFileSync(join(home, 'audit.jsonl'), 'utf8');
  for (const line of dump.stdout.split('\n').filter(Boolean)) assert.ok(!log.includes(line.split('=')[1]), 'no value in the log');
});

test('exec leaves canaries out unless --with-canaries; asking for them is a canary read', () => {
  const { home } = withCanary();
  const keys = [process.execPath, '-e', "process.stdout.write(Object.keys(process.env).filter((k) => ['AWS_SECRET_ACCESS_KEY', 'DATABASE_URL'].includes(k)).sort().join(','))"];
  const plain = lsm(['exec', 'app', 'prod', '--', ...keys], { home });
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, 'DATABASE_URL');
  assert.deepEqual(reads(home), []);
  const asked = lsm(['exec', 'app', 'prod', '--with-canaries', '--', ...keys], { home });
  assert.equal(asked.code, 0, asked.stderr);
  assert.equal(asked.stdout, 'AWS_SECRET_ACCESS_KEY,DATABASE_URL');
  assert.deepEqual(reads(home).map((e) => e.fields!.command), ['exec']);
});

test('a decoy replaced or removed by set, delete or import stops being a canary; a real secret under its name is not one', () => {
  const { home } = withCanary();
  const registered = () => JSON.parse(readFileSync(join(home, 'canaries.json'), 'utf8')).canaries.map((c: { name: string }) => c.name);
  const del = lsm(['delete', 'app', 'prod', 'AWS_SECRET_ACCESS_KEY'], { home });
  assert.equal(del.code, 0, del.stderr);
  assert.equal(del.stderr, 'lsm: AWS_SECRET_ACCESS_KEY was a canary; it is no longer (the decoy was replaced or removed)\n');
  assert.deepEqual(registered(), []);
  const { store_sha256: written, ...deleted } = rows(home).filter((r) => r.event === 'delete').at(-1)!.fields as Record<string, any>;
  assert.match(written, /^[0-9a-f]{64}$/); // the ciphertext the write left (#18.4)
  assert.deepEqual(deleted, { key: 'AWS_SECRET_ACCESS_KEY', canaries_retired: ['AWS_SECRET_ACCESS_KEY'] });
  // The real secret set under the old name: injected by exec, read without a canary.read,
  // and `canary remove` refuses rather than deleting it.
  assert.equal(lsm(['set', 'app', 'prod', 'AWS_SECRET_ACCESS_KEY', REAL], { home }).code, 0);
  const env = lsm(['exec', 'app', 'prod', '--no-mask', '--', process.execPath, '-e', 'process.stdout.write(process.env.AWS_SECRET_ACCESS_KEY ?? "missing")'], { home });
  assert.equal(env.stdout, REAL, env.stderr);
  assert.equal(lsm(['get', 'app', 'prod', 'AWS_SECRET_ACCESS_KEY'], { home }).stdout, REAL);
  assert.deepEqual(reads(home), []);
  assert.equal(lsm(['canary', 'remove', 'app', 'prod', 'AWS_SECRET_ACCESS_KEY'], { home }).code, 1);
  assert.equal(lsm(['get', 'app', 'prod', 'AWS_SECRET_ACCESS_KEY'], { home }).stdout, REAL);
  // set and import over a decoy retire it too; a change to another key leaves it be.
  for (const change of [['set', 'app', 'prod', 'STRIPE_LIVE_KEY', 'mine'], ['import', 'app', 'prod', '-']]) {
    assert.equal(lsm(['canary', 'add', 'app', 'prod', 'STRIPE_LIVE_KEY'], { home }).code, 0);
    assert.equal(lsm(['set', 'app', 'prod', 'OTHER', 'x'], { home }).stderr, '');
    assert.deepEqual(registered(), ['STRIPE_LIVE_KEY']);
    const r = lsm(change, { home, input: 'STRIPE_LIVE_KEY=mine\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(registered(), [], change[0]);
    assert.equal(lsm(['delete', 'app', 'prod', 'STRIPE_LIVE_KEY'], { home }).code, 0);
  }
});

test('a malformed registry does not stop a get; it says canary reads are not detected', () => {
  const { home } = withCanary();
  writeFileSync(join(home, 'canaries.json'), '{"canaries": [{"app": 1}]}');
  const r = lsm(['get', 'app', 'prod', 'DATABASE_URL'], { home });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, REAL);
  assert.match(r.stderr, /canary registry unreadable .*canaries\.json is malformed/);
  assert.equal(lsm(['canary', 'list'], { home }).code, 1);
});

const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.stop().catch(() => {});
});

test('with shipping on, a canary read is shipped at once, even in a quiet period after failures', async () => {
  const r = await Receiver.start();
  receivers.push(r);
  const { home } = withCanary();
  enableShipping(home, { enabled: true, endpoint: r.url });
  // A shipper that failed asks commands to start none for a while (the stamp's future mtime).
  const stamp = join(home, 'ship.spawn');
  writeFileSync(stamp, '');
  const later = (Date.now() + 3_600_000) / 1000;
  utimesSync(stamp, later, later);
  assert.equal(lsm(['get', 'app', 'prod', 'DATABASE_URL'], { home }).code, 0);
  await sleep(700);
  assert.equal(r.requests.length, 0, 'an ordinary read waits for the quiet period');
  assert.equal(lsm(['get', 'app', 'prod', 'AWS_SECRET_ACCESS_KEY'], { home }).code, 0);
  const seq = reads(home)[0].seq;
  assert.ok(await waitFor(() => r.deliveredSeqs().includes(seq)), 'the canary read was shipped');
  assert.ok(await shipperGone(home));
});
