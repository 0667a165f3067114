// Shipping through an installed `lsm` on PATH: a symbolic link named `lsm`, with no
// extension, to the bundle (what `npm link`, `npm install -g` and a link in ~/.local/bin
// make) or to the native executable (LSM_BIN=dist/lsm). The other shipping tests run
// `node dist/lsm.cjs`, which never showed that the shipper was started as
// `node --dir HOME audit ship --background` and died at once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LSM_BIN, cleanEnv, lsm, tempDir, type RunResult } from './helpers.js';
import { Receiver } from './fixtures/otlp/receiver.js';
import { enableShipping, homeWithEvents, rows, shippableSeqs, shipperGone, waitFor } from './fixtures/otlp/ship-env.js';

const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.stop().catch(() => {});
});

async function receiver(): Promise<Receiver> {
  const r = await Receiver.start();
  receivers.push(r);
  return r;
}

const isNode = LSM_BIN.endsWith('.cjs') || LSM_BIN.endsWith('.js');

/** A bin directory holding `lsm` -> the binary under test, as an install makes it. */
function installed(): string {
  const bin = tempDir('lsm-bin-');
  symlinkSync(LSM_BIN, join(bin, 'lsm'));
  return bin;
}

/** Runs `lsm` found on PATH (not `node <bundle>`), without blocking the receiver. */
function onPath(bin: string, args: string[], home: string, env: Record<string, string> = {}): Promise<RunResult> {
  const child = spawn('lsm', args, {
    env: cleanEnv({ LSM_DIR: home, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

test('lsm installed as a link on PATH starts a shipper that delivers every event', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url });
  const bin = installed();
  const res = await onPath(bin, ['get', 'app', 'prod', 'OTHER'], home);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, 'plain');
  assert.equal(res.stderr, '');
  const delivered = await waitFor(() => r.deliveredSeqs().length === shippableSeqs(home).length);
  assert.ok(delivered, 'the background shipper delivered nothing');
  assert.ok(await shipperGone(home));
  const status = JSON.parse((await onPath(bin, ['audit', 'ship', '--status', '--format', 'json'], home)).stdout);
  assert.deepEqual(r.deliveredSeqs(), shippableSeqs(home));
  assert.equal(status.pending, 0);
  assert.equal(status.shipper_failed, undefined);
});

test('a canary read through lsm on PATH is shipped at once', async () => {
  const r = await receiver();
  const home = homeWithEvents();
  const add = lsm(['canary', 'add', 'app', 'prod', 'AWS_SECRET_ACCESS_KEY'], { home });
  assert.equal(add.code, 0, add.stderr);
  enableShipping(home, { enabled: true, endpoint: r.url });
  const bin = installed();
  const res = await onPath(bin, ['get', 'app', 'prod', 'AWS_SECRET_ACCESS_KEY'], home);
  assert.equal(res.code, 0, res.stderr);
  const read = rows(home).find((x) => x.event === 'canary.read');
  assert.ok(read, 'the canary read is in the log');
  assert.ok(await waitFor(() => r.deliveredSeqs().includes(read.seq)), 'the canary read was shipped');
  assert.ok(await shipperGone(home));
});

// A shipper that dies as it starts (here: a preload that fails only in the shipper, as a
// bad command line would) says why in --status, and the next command warns.
test('a shipper that cannot start is reported by the next command and by ship --status', { skip: !isNode && 'the preload is a Node flag' }, async () => {
  const r = await receiver();
  const home = homeWithEvents();
  enableShipping(home, { enabled: true, endpoint: r.url });
  const bin = installed();
  const preload = join(tempDir('lsm-preload-'), 'fail-shipper.cjs');
  writeFileSync(preload, "if (process.argv.includes('--background')) { process.stderr.write('shipper-start-failure: cannot start\\n'); process.exit(9); }\n");
  // Through node and the link: execArgv is what the shipper is started with.
  const viaNode = (args: string[]) => new Promise<RunResult>((resolve) => {
    const child = spawn(process.execPath, ['--require', preload, join(bin, 'lsm'), ...args], { env: cleanEnv({ LSM_DIR: home }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const first = await viaNode(['get', 'app', 'prod', 'OTHER']);
  assert.equal(first.code, 0, first.stderr);
  assert.ok(await waitFor(() => readFileSync(join(home, 'ship.err'), 'utf8').includes('shipper-start-failure')), 'the shipper wrote its reason');
  const status = JSON.parse((await onPath(bin, ['audit', 'ship', '--status', '--format', 'json'], home)).stdout);
  assert.equal(status.shipper_failed.message, 'shipper-start-failure: cannot start');
  assert.ok(status.pending > 0);
  const text = (await onPath(bin, ['audit', 'ship', '--status', '--format', 'text'], home)).stdout;
  assert.match(text, /^failed +\S+: the last shipper started failed: shipper-start-failure: cannot start$/m);
  // The next command that starts a shipper says so (dated back: the 5 s start window is over).
  writeFileSync(join(home, 'ship.spawn'), '');
  utimesSync(join(home, 'ship.spawn'), 0, 0);
  const next = await onPath(bin, ['get', 'app', 'prod', 'OTHER'], home);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(next.stdout, 'plain');
  assert.match(next.stderr, /^lsm: warning: the background audit shipper failed; events wait in the log unsent \('lsm audit ship --status' says why\)\n$/);
  // That one started cleanly (no preload): everything arrives and the failure is gone.
  assert.ok(await waitFor(() => r.deliveredSeqs().length === shippableSeqs(home).length), 'the next shipper delivered');
  assert.ok(await shipperGone(home));
  const later = JSON.parse((await onPath(bin, ['audit', 'ship', '--status', '--format', 'json'], home)).stdout);
  assert.equal(later.shipper_failed, undefined);
});
