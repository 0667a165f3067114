// Issue #18: tamper evidence that holds in an unprotected home. Each test is one attack
// a hostile agent running as the user tried against lsm, run through the built CLI.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initHome, lsm } from './helpers.js';
import { Receiver } from './fixtures/otlp/receiver.js';
import { enableShipping, ship } from './fixtures/otlp/ship-env.js';
import { appendEvent } from '../src/audit/log.js';

const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.stop().catch(() => {});
});

function events(home: string): any[] {
  const r = lsm(['audit', 'tail', '-n', '1000', '--format', 'json'], { home });
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

// ------------------------------------------------------------------ 1. planted locks

test('#18.1: a lock planted as `ln -s 1` names no lsm: the log lock is taken over at once, list is recorded', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  symlinkSync('1', join(home, 'audit.jsonl.lock'));
  const list = lsm(['list', 'app', 'dev'], { home, timeout: 10_000 });
  assert.equal(list.code, 0, list.stderr);
  assert.doesNotMatch(list.stderr, /cannot record|timed out/);
  const get = lsm(['get', 'app', 'dev', 'K'], { home, timeout: 10_000 });
  assert.equal(get.code, 0, get.stderr);
  assert.equal(get.stdout, 'v');
  const names = events(home).map((e) => e.event);
  assert.ok(names.includes('list'), `list recorded: ${names}`);
  assert.ok(names.includes('get'));
});

test('#18.1: a lock naming a live pid with its real start time but no lsm process is stale too', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  // pid 1 with its own start time: alive, matching, and not lsm.
  symlinkSync(`1 ${startTime(1)}`, join(home, 'audit.jsonl.lock'));
  const list = lsm(['list', 'app', 'dev'], { home, timeout: 10_000 });
  assert.equal(list.code, 0, list.stderr);
  assert.ok(events(home).some((e) => e.event === 'list'));
});

test('#18.1: a planted ship.lock neither blinds the shipper nor fakes a running one; a heartbeat not sent exits non-zero', async () => {
  const r = await Receiver.start();
  receivers.push(r);
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  enableShipping(home, { enabled: true, endpoint: r.url, protocol: 'http/json', timeout: '2s', max_retries: 0 });
  symlinkSync('1', join(home, 'ship.lock'));
  const status = lsm(['audit', 'ship', '--status', '--format', 'json'], { home });
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).shipper_running, false);
  const hb = await ship(home, '--heartbeat');
  assert.equal(hb.code, 0, hb.stderr);
  assert.ok(r.delivered().some((d) => d.attrs['lsm.kind'] === 'checkpoint'), 'the heartbeat reached the collector');
  assert.ok(r.delivered().some((d) => d.attrs['lsm.seq'] === 1), 'the pending events were shipped');
});

test('#18.1: a heartbeat that another (live) shipper keeps from being sent exits non-zero', async () => {
  const r = await Receiver.start();
  receivers.push(r);
  const home = initHome();
  enableShipping(home, { enabled: true, endpoint: r.url, protocol: 'http/json', timeout: '2s', max_retries: 0 });
  // A process that is lsm by its name holds the lock for real.
  const holder = spawn('bash', ['-c', 'exec -a lsm sleep 30'], { stdio: 'ignore' });
  try {
    await new Promise((res) => setTimeout(res, 200));
    symlinkSync(`${holder.pid} ${startTime(holder.pid!)}`, join(home, 'ship.lock'));
    const hb = await ship(home, '--heartbeat');
    assert.notEqual(hb.code, 0);
    assert.match(hb.stderr, /no heartbeat sent/);
  } finally {
    holder.kill();
  }
});

// ------------------------------------------------------------------ 6. hard links

test('#18.6: a hard-linked key.txt is refused with a clear error', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  const elsewhere = join(initHome(), '..', 'stolen-key.txt');
  linkSync(join(home, 'key.txt'), elsewhere);
  const r = lsm(['get', 'app', 'dev', 'K'], { home });
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /key file .*key\.txt has 2 hard links; refusing to use it/);
  assert.doesNotMatch(r.stderr, /at .*\.(ts|js|cjs):\d+/, 'no stack trace');
});

test('#18.6: a hard-linked store is refused with a clear error', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  linkSync(join(home, 'app.dev.age'), join(initHome(), 'app.dev.age'));
  for (const args of [['get', 'app', 'dev', 'K'], ['exec', 'app', 'dev', '--', 'true'], ['set', 'app', 'dev', 'K2', 'w']]) {
    const r = lsm(args, { home });
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, /store .*app\.dev\.age has 2 hard links; refusing to use it/, args.join(' '));
  }
});

// ------------------------------------------------------------------ 2. time going backwards

const DAY = 86_400_000;

test('#18.2: a row stamped days before the row above it fails verify, is flagged, and is not dropped by --since', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  // The agent writes its read with lsm's own code and a clock of its choosing.
  const row = appendEvent(join(home, 'audit.jsonl'), { event: 'get', app: 'app', env: 'dev', fields: { key: 'K' } }, { now: () => new Date(Date.now() - 3 * DAY) });
  lsm(['list', 'app', 'dev'], { home });
  const v = lsm(['audit', 'verify', '--format', 'text'], { home });
  assert.equal(v.code, 1, v.stdout + v.stderr);
  assert.match(v.stderr, new RegExp(`seq=${row.seq}\\b.*time goes backwards: seq ${row.seq} is stamped .*3 days before seq ${row.seq - 1}`));
  const s = lsm(['audit', 'suspicious', '--format', 'json', '--since', '1h'], { home });
  const flagged = s.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const f = flagged.find((x) => x.event.seq === row.seq);
  assert.ok(f, `seq ${row.seq} flagged: ${s.stdout}${s.stderr}`);
  assert.ok(f.reasons.includes('time_backwards'));
  const q = lsm(['audit', 'query', '--since', '1h', '--format', 'json', '--key', 'K'], { home });
  assert.equal(q.code, 0, q.stderr);
  assert.ok(q.stdout.split('\n').filter(Boolean).some((l) => JSON.parse(l).seq === row.seq), 'the backdated read is shown');
  assert.match(q.stderr, new RegExp(`seq ${row.seq} is stamped .* shown despite --since`));
});

test('#18.2: a clock step of a few seconds is not tampering', () => {
  const home = initHome();
  appendEvent(join(home, 'audit.jsonl'), { event: 'list', app: 'app', env: 'dev' }, { now: () => new Date(Date.now() + 5000) });
  lsm(['list', 'app', 'dev'], { home });
  const v = lsm(['audit', 'verify'], { home });
  assert.equal(v.code, 0, v.stderr);
});

// ------------------------------------------------------------------ 5. torn rows

test('#18.5: a read whose row was cut short is still shown by tail, query and suspicious, marked torn', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'SECRET_KEY', 'v'], { home });
  assert.equal(lsm(['get', 'app', 'dev', 'SECRET_KEY'], { home }).code, 0);
  const log = join(home, 'audit.jsonl');
  const bytes = readFileSync(log);
  writeFileSync(log, bytes.subarray(0, bytes.length - 3)); // the newline and two bytes
  const getSeq = Number(/"seq":(\d+)/.exec(bytes.toString('utf8').trim().split('\n').pop()!)![1]);
  lsm(['list', 'app', 'dev'], { home }); // the next append "repairs" the torn write
  assert.match(readFileSync(log, 'utf8'), /audit\.repair/);

  const tail = lsm(['audit', 'tail', '-n', '50', '--format', 'json'], { home });
  const shown = tail.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const torn = shown.find((r) => r.seq === getSeq);
  assert.ok(torn, `tail shows seq ${getSeq}: ${tail.stdout}`);
  assert.equal(torn.event, 'get');
  assert.equal(torn.app, 'app');
  assert.equal(torn.fields.key, 'SECRET_KEY');
  assert.equal(torn.damage, 'torn');
  assert.match(tail.stderr, /damaged line \(torn\)/);

  const text = lsm(['audit', 'tail', '-n', '50', '--format', 'text'], { home });
  assert.match(text.stdout, /get .*app\/dev.*SECRET_KEY.*torn/);

  const q = lsm(['audit', 'query', '--key', 'SECRET_KEY', '--event', 'get', '--format', 'json'], { home });
  assert.ok(q.stdout.split('\n').filter(Boolean).some((l) => JSON.parse(l).seq === getSeq), q.stdout);

  const s = lsm(['audit', 'suspicious', '--format', 'json'], { home });
  const f = s.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((x) => x.event.seq === getSeq);
  assert.ok(f && f.reasons.includes('torn_row'), s.stdout);
});

// ------------------------------------------------------------------ 7. readers that crash

test('#18.7: a row nested 200,000 deep (or 300 KB) crashes no reader; it is shown in part and reported', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  const log = join(home, 'audit.jsonl');
  const deep = (n: number) => `{"schema_version":2,"seq":999,"ts":"${new Date().toISOString()}","event":"get","app":"app","env":"dev","fields":{"key":"K","x":${'['.repeat(n)}${']'.repeat(n)}}}\n`;
  for (const row of [deep(200_000), deep(100)]) {
    const before = readFileSync(log);
    appendFileSync(log, row);
    for (const args of [
      ['audit', 'tail', '--format', 'text'], ['audit', 'tail', '--format', 'json'], ['audit', 'show', '999'], ['audit', 'show', '999', '--format', 'json'],
      ['audit', 'query', '--format', 'text'], ['audit', 'suspicious', '--format', 'text'], ['audit', 'stats'], ['audit', 'verify'],
    ]) {
      const r = lsm(args, { home });
      assert.doesNotMatch(r.stderr, /internal error|RangeError|Maximum call stack/, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.code === 0 || (args[1] === 'verify' && r.code === 1), `${args.join(' ')} exit ${r.code}: ${r.stderr}`);
    }
    const show = lsm(['audit', 'show', '999', '--format', 'json'], { home });
    const shown = JSON.parse(show.stdout);
    assert.equal(shown.event, 'get');
    assert.match(shown.damage, /^too_(deep|large)$/);
    writeFileSync(log, before);
  }
});

// ------------------------------------------------------------------ 3. config changes

test('#18.3: a loosened config is recorded at the next event and flagged by suspicious', () => {
  const home = initHome();
  lsm(['set', 'app', 'prod', 'K', 'v'], { home });
  writeFileSync(join(home, 'config.yaml'), 'env: dev\npolicy:\n  agent:\n    "prod*": deny\n');
  lsm(['list', 'app', 'prod'], { home });
  // Overnight the agent loosens it, then reads.
  writeFileSync(join(home, 'config.yaml'), 'env: dev\naudit:\n  on_failure: open\npolicy:\n  agent:\n    "prod*": allow\n');
  assert.equal(lsm(['get', 'app', 'prod', 'K'], { home }).code, 0);
  const all = events(home);
  const changes = all.filter((e) => e.event === 'config.changed');
  const last = changes[changes.length - 1];
  assert.ok(last, 'config.changed recorded');
  const get = all.find((e) => e.event === 'get');
  assert.ok(last.seq < get.seq, 'recorded before the read made under it');
  assert.equal(last.fields.settings['audit.on_failure'], 'open');
  assert.ok(last.fields.loosened.some((l: string) => /on_failure/.test(l)));
  assert.ok(last.fields.loosened.some((l: string) => /policy\.agent\.prod\*: deny -> allow/.test(l)), JSON.stringify(last.fields.loosened));
  assert.equal(last.fields.previous_sha256, all.find((e) => e.seq === last.fields.previous_seq).fields.config_sha256);
  // A new home records its first config on its first event, as a baseline: no row of its own.
  assert.match(all[0].fields.config_sha256, /^[0-9a-f]{64}$/);
  assert.equal(all[0].event, 'init');
  const s = lsm(['audit', 'suspicious', '--format', 'json'], { home });
  const f = s.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((x) => x.event.seq === last.seq);
  assert.ok(f && f.reasons.includes('config_loosened'), s.stdout);
  // An unchanged config is not recorded again.
  lsm(['list', 'app', 'prod'], { home });
  assert.equal(events(home).filter((e) => e.event === 'config.changed').length, changes.length);
});

test('#18.3: deleting the digest index does not hide a config change', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  const before = events(home).filter((e) => e.event === 'config.changed').length;
  writeFileSync(join(home, 'config.yaml'), 'env: dev\naudit:\n  on_failure: open\n');
  rmSync(join(home, 'audit.digests'), { force: true });
  assert.equal(lsm(['list', 'app', 'dev'], { home }).code, 0);
  assert.equal(events(home).filter((e) => e.event === 'config.changed').length, before + 1);
});

test('#18.3: the fail-closed error does not advertise on_failure: open to an agent or a script', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  const log = join(home, 'audit.jsonl');
  rmSync(log);
  mkdirSync(log);
  for (const env of [{}, { CLAUDECODE: '1' }]) {
    const r = lsm(['get', 'app', 'dev', 'K'], { home, env });
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /cannot record the audit event/);
    assert.doesNotMatch(r.stderr, /on_failure/);
  }
});

// ------------------------------------------------------------------ 4. stores swapped out of band

test('#18.4: a store re-encrypted with only the public key is reported at the next read, recorded and flagged', async () => {
  const home = initHome();
  lsm(['set', 'myapp', 'prod', 'API_KEY', 'the-real-one'], { home });
  assert.equal(lsm(['get', 'myapp', 'prod', 'API_KEY'], { home }).stderr, '');
  const recipient = /public key: (age1[0-9a-z]+)/.exec(readFileSync(join(home, 'key.txt'), 'utf8'))![1];
  const { encrypt } = await import('../src/age/age.js');
  writeFileSync(join(home, 'myapp.prod.age'), encrypt(Buffer.from('API_KEY=attacker-value\n'), [recipient]));
  for (const drop of [false, true]) {
    // With the digest index deleted too, the log alone still names the file lsm wrote.
    if (drop) {
      writeFileSync(join(home, 'myapp.prod.age'), encrypt(Buffer.from('API_KEY=attacker-value-2\n'), [recipient]));
      rmSync(join(home, 'audit.digests'), { force: true });
    }
    const r = lsm(['exec', 'myapp', 'prod', '--', 'sh', '-c', 'echo "$API_KEY"'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: store myapp\/prod .* was changed outside lsm/);
    const swaps = events(home).filter((e) => e.event === 'store.unrecorded_change');
    assert.equal(swaps.length, drop ? 2 : 1);
    assert.equal(swaps[swaps.length - 1].local_only, true);
    // Once recorded, the same file is not reported again.
    assert.doesNotMatch(lsm(['get', 'myapp', 'prod', 'API_KEY'], { home }).stderr, /changed outside lsm/);
  }
  const s = lsm(['audit', 'suspicious', '--format', 'json'], { home });
  const flagged = s.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.reasons.includes('store_swapped'));
  assert.equal(flagged.length, 2, s.stdout);
  // A write by lsm is recorded, so reading it back is quiet.
  lsm(['set', 'myapp', 'prod', 'API_KEY', 'fixed'], { home });
  assert.equal(lsm(['get', 'myapp', 'prod', 'API_KEY'], { home }).stderr, '');
});
