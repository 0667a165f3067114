import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lsm } from './helpers.js';
import { acquire } from '../src/lock.js';
import { Receiver, OK, blackHole } from './fixtures/otlp/receiver.js';
import {
  CANARY_KEY, CANARY_VALUE, appendRow, cursor, enableShipping, homeWithEvents, lsmAsync, rows, ship, shippableSeqs, shipperGone, sleep, waitFor,
} from './fixtures/otlp/ship-env.js';

const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.stop().catch(() => {});
});

async function receiver(): Promise<Receiver> {
  const r = await Receiver.start();
  receivers.push(r);
  return r;
}

/** Fast failure settings, so fault tests take a fraction of a second per attempt. */
const FAST = { timeout: '500ms', max_retries: 0 };

function assertNoCanary(r: Receiver): void {
  const bytes = r.allBytes();
  assert.ok(bytes.length > 0, 'something was sent');
  for (const canary of [CANARY_KEY, CANARY_VALUE, CANARY_KEY.toLowerCase(), 'MISSING_KEY', 'OTHER']) {
    assert.equal(bytes.indexOf(canary), -1, `${canary} reached the collector`);
  }
}

for (const protocol of ['http/json', 'http/protobuf'] as const) {
  test(`ships every event after the cursor, redacted, ending with a checkpoint (${protocol})`, async () => {
    const r = await receiver();
    const home = homeWithEvents();
    enableShipping(home, { enabled: true, endpoint: r.url, protocol });
    const res = await ship(home);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^sent \d+ events in 1 batch to http:\/\/127\.0\.0\.1:\d+\/v1\/logs\n$/);
    assert.deepEqual(r.validationErrors(), []);
    assert.equal(r.requests[0].contentType, protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
    const log = rows(home);
    assert.deepEqual(r.deliveredSeqs(), shippableSeqs(home));
    assertNoCanary(r);

    const delivered = r.delivered();
    const last = log[log.length - 1];
    const checkpoint = delivered[delivered.length - 1];
    assert.equal(checkpoint.attrs['lsm.kind'], 'checkpoint');
    assert.equal(checkpoint.attrs['lsm.seq'], last.seq);
    assert.equal(checkpoint.attrs['lsm.seq_from'], 1);
    assert.equal(checkpoint.attrs['lsm.chain.head'], last.hash);
    assert.equal(checkpoint.resource['service.name'], 'lsm');
    assert.ok(checkpoint.resource['host.name']);
    for (const d of delivered.slice(0, -1)) {
      const row = log.find((x) => x.seq === d.attrs['lsm.seq']);
      assert.equal(d.record.timeUnixNano, String(BigInt(Date.parse(row.ts)) * 1_000_000n), 'the event time, not the send time');
      if (row.app) assert.match(String(d.attrs['lsm.app']), /^[0-9a-f]{12}$/);
      else assert.equal(d.attrs['lsm.app'], undefined);
      assert.equal(d.attrs['lsm.tty_present'], false);
      assert.equal(d.attrs['lsm.agent_marker'], 'none');
      for (const k of Object.keys(d.attrs)) assert.ok(!/prev|hash|cwd|tty$|ancestry|session/.test(k), k);
    }
    assert.deepEqual(cursor(home), { seq: last.seq, hash: last.hash, offset: readFileSync(join(home, 'audit.jsonl')).length });

    const again = await ship(home);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /^nothing to send/);
    assert.equal(r.requests.length, 1);
  });
}

test('audit.* and local-only events stay on the machine; the checkpoint covers them', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  assert.equal(lsm(['audit', 'verify'], { home }).code, 0);
  lsm(['audit', 'tail', '-n', '1'], { home });
  enableShipping(home, { enabled: true, endpoint: r.url });
  assert.equal((await ship(home)).code, 0);
  const log = rows(home);
  assert.ok(log.some((x) => x.event.startsWith('audit.')));
  const events = r.delivered().filter((d) => d.attrs['lsm.kind'] === 'event');
  assert.ok(events.every((d) => !String(d.attrs['lsm.event']).startsWith('audit')));
  assert.equal(r.delivered().at(-1)!.attrs['lsm.seq'], log.at(-1).seq);
});

test('batches of batch_size, each with its checkpoint; seq ranges are contiguous', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url, batch_size: 2 });
  assert.equal((await ship(home)).code, 0);
  assert.ok(r.requests.length >= 3);
  let next = 1;
  for (const req of r.requests) {
    const recs = req.body.resourceLogs[0].scopeLogs[0].logRecords;
    const cp = Object.fromEntries(recs.at(-1).attributes.map((a: any) => [a.key, a.value]));
    assert.equal(Number(cp['lsm.seq_from'].intValue), next);
    assert.equal(Number(cp['lsm.covered'].intValue), Number(cp['lsm.seq'].intValue) - next + 1);
    assert.equal(Number(cp['lsm.shipped'].intValue), recs.length - 1);
    assert.ok(recs.length - 1 <= 2);
    next = Number(cp['lsm.seq'].intValue) + 1;
  }
  assert.equal(next, rows(home).at(-1).seq + 1);
});

/** Runs a failing delivery, checks nothing moved, recovers, checks that every seq arrived. */
async function faultThenRecover(setup: (r: Receiver) => void, expectErr: RegExp, settings: Record<string, string | number> = FAST) {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url, ...settings });
  setup(r);
  const failed = await ship(home);
  assert.equal(failed.code, 1, failed.stdout);
  assert.match(failed.stderr, expectErr);
  assert.equal(cursor(home), undefined, 'the cursor did not move');
  const status = JSON.parse((await ship(home, '--status', '--format', 'json')).stdout);
  assert.equal(status.pending, shippableSeqs(home).length);
  assert.match(status.last_error.message, expectErr);
  r.answer = () => OK;
  const ok = await ship(home);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(r.deliveredSeqs(), shippableSeqs(home));
  assert.deepEqual(r.validationErrors(), []);
  assert.equal(JSON.parse((await ship(home, '--status', '--format', 'json')).stdout).last_error, undefined);
  return { r, home };
}

test('fault: HTTP 500 keeps every event pending (no retry, no drop), then all arrive', async () => {
  await faultThenRecover((r) => (r.answer = () => ({ status: 500, body: 'oops' })), /HTTP 500/);
});

test('fault: a black-holed collector times out, then all arrive', async () => {
  await faultThenRecover((r) => (r.answer = () => 'hang'), /no answer within 500 ms/);
});

test('fault: a slow collector (answers after the timeout) is retried later; duplicates are by seq', async () => {
  const { r } = await faultThenRecover((r) => (r.answer = () => ({ ...(OK as object), status: 200, delayMs: 1500 })), /no answer within/);
  // The collector may have kept the first copy: the same batch went again, whole.
  const events = (q: (typeof r.requests)[number]) => q.body.resourceLogs[0].scopeLogs[0].logRecords.length;
  assert.equal(r.requests.length, 2);
  assert.equal(events(r.requests[0]), events(r.requests[1]));
});

test('fault: a 200 that is not an OTLP answer (a proxy page) does not count as delivered', async () => {
  await faultThenRecover((r) => (r.answer = () => ({ status: 200, body: '<html>portal</html>', headers: { 'content-type': 'text/html' } })), /not an OTLP response/);
});

test('fault: 503 and connection errors are retried in the same run with backoff', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url, timeout: '500ms', max_retries: 2 });
  r.answer = (n) => (n === 0 ? { status: 503 } : n === 1 ? 'hang' : OK);
  const res = await ship(home);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(r.requests.length, 3);
  assert.deepEqual(r.deliveredSeqs(), shippableSeqs(home));
});

test('fault: 429 with Retry-After waits as told, then delivers', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url, max_retries: 1 });
  const at: number[] = [];
  r.answer = (n) => {
    at.push(Date.now());
    return n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : OK;
  };
  const res = await ship(home);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(r.requests.length, 2);
  assert.ok(at[1] - at[0] >= 900, `retried after ${at[1] - at[0]} ms`);
  assert.deepEqual(r.deliveredSeqs(), shippableSeqs(home));
});

test('fault: the collector is down (connection refused), then comes back on the same port', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url, ...FAST });
  await r.stop();
  const res = await ship(home);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /connection refused/);
  await r.listen();
  assert.equal((await ship(home)).code, 0);
  assert.deepEqual(r.deliveredSeqs(), shippableSeqs(home));
});

test('while another shipper holds the lock, a run says so and does not claim there was nothing to send', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url, ...FAST });
  // A live process that is lsm by its command line holds the lock: a running shipper
  // (a lock naming a process that is not lsm is stale, #18.1).
  const holder = spawn('bash', ['-c', 'exec -a lsm sleep 30'], { stdio: 'ignore' });
  try {
    await sleep(200);
    const stat = readFileSync(`/proc/${holder.pid}/stat`, 'utf8');
    symlinkSync(`${holder.pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`, join(home, 'ship.lock'));
    const res = await ship(home);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, new RegExp(`another shipper is running \\(pid ${holder.pid}\\); it sends what is pending`));
    // A heartbeat exists so that silence shows: one that was not sent is not a success.
    const hb = await ship(home, '--heartbeat');
    assert.notEqual(hb.code, 0);
    assert.match(hb.stderr, /no heartbeat sent: another shipper/);
    assert.equal(r.requests.length, 0);
  } finally {
    holder.kill();
  }
});

test('fault: 401 and 413 keep every event pending (an expired token, a size limit), then all arrive', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url, ...FAST });
  for (const [status, hint] of [[401, /HTTP 401 \(check otlp\.headers\)/], [413, /HTTP 413 \(lower otlp\.batch_size\)/]] as const) {
    r.answer = () => ({ status, body: 'no', headers: { 'content-type': 'text/plain' } });
    const res = await ship(home);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, hint);
    assert.equal(cursor(home), undefined, `nothing moved the cursor after ${status}`);
    assert.equal(rows(home).some((x) => x.event === 'audit.sink.dropped'), false);
  }
  r.answer = () => OK;
  assert.equal((await ship(home)).code, 0);
  assert.deepEqual(r.deliveredSeqs(), shippableSeqs(home));
});

test('fault: 400 drops the batch for good, records audit.sink.dropped locally, and moves on', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url, ...FAST });
  const before = rows(home);
  r.answer = () => ({ status: 400, body: '{"code":3,"message":"bad"}', headers: { 'content-type': 'application/json' } });
  const res = await ship(home);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /dropped \d+ events \(seq 1-\d+\).*HTTP 400/);
  const dropped = rows(home).find((x) => x.event === 'audit.sink.dropped');
  assert.ok(dropped, 'a local event records the loss');
  assert.equal(dropped.local_only, true);
  assert.deepEqual(dropped.fields, { count: shippableSeqs(home).length, seq_from: 1, seq_to: before.at(-1).seq, status: 400 });
  assert.equal(cursor(home)!.seq, before.at(-1).seq);

  r.answer = () => OK;
  appendRow(home, { event: 'list', app: 'app', env: 'dev', fields: { count: 1 } });
  assert.equal((await ship(home)).code, 0);
  const events = r.delivered().filter((d) => d.attrs['lsm.kind'] === 'event');
  assert.deepEqual(events.map((d) => d.attrs['lsm.event']), ['list']);
});

test('partial success is read, reported and recorded locally; the batch is not resent', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url });
  r.answer = () => ({ status: 200, body: '{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}', headers: { 'content-type': 'application/json' } });
  const res = await ship(home);
  assert.equal(res.code, 0);
  assert.match(res.stderr, /rejected 2 records/);
  const status = JSON.parse((await ship(home, '--status', '--format', 'json')).stdout);
  assert.equal(status.last_partial.rejected, 2);
  assert.equal(status.last_partial.message, 'too old');
  assert.ok(rows(home).some((x) => x.event === 'audit.sink.partial' && x.local_only));
  assert.equal(r.requests.length, 1);
});

test('--status: where, why, what is pending; never a header value or a password', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  const url = new URL(r.url);
  url.username = 'user';
  url.password = 'pw-SECRET-1';
  enableShipping(home, { enabled: true, endpoint: `${url}?token=tok-SECRET-2`, headers: { Authorization: 'Bearer hdr-SECRET-3' }, ...FAST });
  r.answer = () => ({ status: 503 });
  await ship(home);
  const text = (await ship(home, '--status', '--format', 'text')).stdout;
  assert.match(text, /^shipping +on: config\.yaml otlp\.enabled is true$/m);
  assert.match(text, /^endpoint +http:\/\/127\.0\.0\.1:\d+\/v1\/logs\?… \(config\.yaml otlp\.endpoint\)$/m);
  assert.match(text, /^headers +Authorization \(values not shown\)$/m);
  assert.match(text, new RegExp(`^pending +${shippableSeqs(home).length} events to send`, 'm'));
  assert.match(text, /^last error .*HTTP 503/m);
  assert.match(text, /^shipper +not running$/m);
  assert.ok(!/SECRET/.test(text), text);
  const failed = await ship(home);
  assert.ok(!/SECRET/.test(failed.stderr + failed.stdout));
  // The credentials did go to the collector they were written for.
  assert.match(r.requests[0].raw.toString(), /authorization: Bearer hdr-SECRET-3/i);
});

test('shipping off: --status says why; ship says so and exits 1', async () => {
  const home = homeWithEvents();
  const status = (await ship(home, '--status', '--format', 'text')).stdout;
  assert.match(status, /^shipping +off: config\.yaml does not say/m);
  const res = await ship(home);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /shipping is off/);
});

test('--heartbeat sends a checkpoint even with nothing pending', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url });
  assert.equal((await ship(home)).code, 0);
  const head = cursor(home)!;
  assert.equal((await ship(home, '--heartbeat')).code, 0);
  assert.equal(r.requests.length, 2);
  const hb = r.delivered().at(-1)!;
  assert.equal(r.requests[1].body.resourceLogs[0].scopeLogs[0].logRecords.length, 1);
  assert.equal(hb.attrs['lsm.heartbeat'], true);
  assert.equal(hb.attrs['lsm.covered'], 0);
  assert.equal(hb.attrs['lsm.seq'], head.seq);
  assert.equal(hb.attrs['lsm.chain.head'], head.hash);
});

test('two shippers at once: one sends, the other steps aside; nothing is sent twice', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url, batch_size: 1 });
  const [a, b] = await Promise.all([ship(home), ship(home)]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const seqs = r.delivered().filter((d) => d.attrs['lsm.kind'] === 'event').map((d) => d.attrs['lsm.seq']);
  assert.deepEqual(seqs, shippableSeqs(home));
});

test('a truncated or rewritten log is reported, and the log as it now is is sent again', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url });
  assert.equal((await ship(home)).code, 0);
  const shipped = r.requests.length;
  const path = join(home, 'audit.jsonl');
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  writeFileSync(path, `${lines.slice(0, 2).join('\n')}\n`, { mode: 0o600 });
  appendRow(home, { event: 'list', app: 'app', env: 'dev', fields: { count: 1 } });
  const res = await ship(home);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /warning: the log ends at seq 3, before the shipped seq \d+ \(truncated or replaced\); sending the whole log again/);
  assert.ok(rows(home).some((x) => x.event === 'audit.sink.cursor_mismatch' && x.local_only));
  const status = JSON.parse((await ship(home, '--status', '--format', 'json')).stdout);
  assert.match(status.cursor_mismatch, /truncated/);
  const resent = r.requests.slice(shipped).flatMap((q) => q.body.resourceLogs[0].scopeLogs[0].logRecords);
  const attrs = resent.map((rec: any) => Object.fromEntries(rec.attributes.map((a: any) => [a.key, a.value.stringValue ?? a.value.intValue])));
  assert.deepEqual(attrs.filter((a) => a['lsm.kind'] === 'event').map((a) => [Number(a['lsm.seq']), a['lsm.event']]), [[1, 'init'], [2, 'set'], [3, 'list']]);
  assert.equal(attrs.at(-1)!['lsm.chain.head'], rows(home).at(-1).hash);
});

test('a command starts a background shipper that delivers; the command does not wait for it', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  // Flow style is outside the fast YAML subset: the answer is parsed once, then cached.
  appendFileSync(join(home, 'config.yaml'), `otlp: {enabled: true, endpoint: "${r.url}", timeout: 10s}\n`);
  const res = lsm(['get', 'app', 'prod', 'OTHER'], { home });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, 'plain');
  assert.ok(await waitFor(() => r.deliveredSeqs().length === shippableSeqs(home).length), 'the background shipper delivered');
  assert.deepEqual(r.deliveredSeqs(), shippableSeqs(home));
  assertNoCanary(r);
  assert.ok(await shipperGone(home));
  assert.match(readFileSync(join(home, 'ship.cache'), 'utf8'), /^[0-9a-f]{64} 1\n$/);
});

test('with the collector black-holed, lsm get still returns at once and the events stay pending', async () => {
  const hole = await blackHole();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: hole.url, timeout: '1s', max_retries: 0 });
  try {
    const res = await lsmAsync(['get', 'app', 'prod', 'OTHER'], home);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'plain');
    assert.equal(res.stderr, '');
    assert.ok(await shipperGone(home));
    const status = JSON.parse((await ship(home, '--status', '--format', 'json')).stdout);
    assert.equal(status.pending, shippableSeqs(home).length);
    assert.match(status.last_error.message, /no answer within 1000 ms/);
  } finally {
    await hole.close();
  }
});

test('--follow stops on SIGTERM at once while a request hangs, not when it times out', async () => {
  const hole = await blackHole();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: hole.url, timeout: '5m' });
  try {
    const follower = lsmAsync(['audit', 'ship', '--follow'], home);
    await sleep(1500); // its first request is in the black hole by now
    const t0 = Date.now();
    follower.kill('SIGTERM');
    const res = await follower;
    assert.equal(res.code, 0, res.stderr);
    assert.ok(Date.now() - t0 < 4000, `stopped after ${Date.now() - t0} ms`);
    assert.ok(await shipperGone(home));
  } finally {
    await hole.close();
  }
});

test('--follow ships rows as they are recorded, and stops on SIGTERM', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url });
  const follower = lsmAsync(['audit', 'ship', '--follow'], home);
  assert.ok(await waitFor(() => r.deliveredSeqs().length === shippableSeqs(home).length));
  lsm(['get', 'app', 'prod', 'OTHER'], { home });
  const seq = rows(home).at(-1).seq;
  assert.ok(await waitFor(() => r.deliveredSeqs().includes(seq)), 'the new row was sent');
  follower.kill('SIGTERM');
  const res = await follower;
  assert.equal(res.code, 0, res.stderr);
  assert.ok(await shipperGone(home));
});
