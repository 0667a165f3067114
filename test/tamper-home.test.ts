// Issue #18: tamper evidence that holds in an unprotected home. Each test is one attack
// a hostile agent running as the user tried against lsm, run through the built CLI.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { linkSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { initHome, lsm } from './helpers.js';
import { Receiver } from './fixtures/otlp/receiver.js';
import { enableShipping, ship } from './fixtures/otlp/ship-env.js';

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
