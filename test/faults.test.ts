// What a machine does to lsm: a full disk, a file size limit, a read-only home, a
// collector that is down, slow, black-holed or answers garbage. Each must give the
// documented behaviour (README "Failure mode", docs/audit.md "When the log cannot be
// written", docs/observability.md "Delivery") and lose nothing: stores decrypt to
// their last content, no temp or lock file is left, the log verifies, and every event
// reaches the collector once it is back.
//
// The disk and read-only cases need mount(2) (root, and a sandbox that allows it) and
// skip with the reason when they cannot have it. RLIMIT_FSIZE (prlimit) works anywhere
// and simulates the other half: a file that cannot grow, where writes fail with EFBIG
// after a short write, as they do with ENOSPC on a disk with a few bytes left.
import { describe, it, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, chownSync, closeSync, ftruncateSync, openSync, readFileSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { initHome, tempDir } from './helpers.js';
import { Receiver, OK, blackHole } from './fixtures/otlp/receiver.js';
import { enableShipping, shippableSeqs, shipperGone, cursor } from './fixtures/otlp/ship-env.js';
import {
  DOCUMENTED, ERROR, TRACED, assertOldOrNew, bindReadOnly, debris, homeSteps, straceWorks, fileSizeLimit, mountTmpfs, ok, readStore, rows, run, sealHome, sealsAvailable, snapshot, snapshotDiff, unmountAll, unprivileged, verify, verifyFailures,
} from './fixtures/reliability.js';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c().catch(() => {});
  unmountAll();
});

const FAIL_CLOSED = /^lsm: cannot record the audit event in \S+audit\.jsonl: (.+); nothing was revealed or changed$/m;
const WARNED = /^lsm: warning: cannot record the audit event in \S+audit\.jsonl: /m;
const VALUE = 'value-of-A-7c1f';

/** A home with app/dev holding A (and `extra` bytes of other secrets, to make the store big). */
async function homeAt(home: string, extra = 0): Promise<void> {
  await ok(['init'], { home });
  await ok(['set', 'app', 'dev', 'A', VALUE], { home });
  if (extra > 0) {
    const lines: string[] = [];
    for (let i = 0; lines.join('\n').length < extra; i++) lines.push(`PAD_${i}=${'p'.repeat(100)}`);
    await ok(['import', 'app', 'dev', '-'], { home, input: `${lines.join('\n')}\n` });
  }
}

/** Fills the file system of `dir` until a write fails; returns the filler's path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'a');
  const chunk = Buffer.alloc(4096, 0x61);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return path;
}

/**
 * Fills the slack of `file`'s last page with spaces (a blank line to readers): a full
 * disk still takes an append that fits in the page the file already has, and a lock no
 * longer needs a page of its own (it is a symlink), so without this a short event could
 * still be recorded, rightly, and the command go ahead.
 */
function fillSlack(file: string): void {
  for (let n = 2048; n >= 1; n >>= 1) {
    try {
      for (;;) appendFileSync(file, ' '.repeat(n));
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOSPC') throw err;
    }
  }
}

function free(filler: string, bytes: number): void {
  const fd = openSync(filler, 'r+');
  try {
    ftruncateSync(fd, Math.max(0, statSync(filler).size - bytes));
  } finally {
    closeSync(fd);
  }
}

/** The commands that reveal or change a secret, each of which must fail closed. */
const REVEAL_OR_CHANGE: Array<[string, string[], string?]> = [
  ['get', ['get', 'app', 'dev', 'A']],
  ['set', ['set', 'app', 'dev', 'A', 'changed-value']],
  ['delete', ['delete', 'app', 'dev', 'A']],
  ['import', ['import', 'app', 'dev', '-'], 'A=imported\n'],
  ['exec', ['exec', 'app', 'dev', '--no-mask', '--', 'sh', '-c', 'printf %s "$A"']],
  ['dump', ['dump', 'app', 'dev', '--stdout']],
];

/** Each reveal/change command fails with exit 1, prints no value and changes nothing. */
async function assertFailsClosed(home: string, why: RegExp, opts: { wrap?: string[]; alsoLock?: boolean } = {}): Promise<void> {
  const store = readFileSync(join(home, 'app.dev.age'));
  for (const [name, args, input] of REVEAL_OR_CHANGE) {
    const r = await run(args, { home, input, wrap: opts.wrap, cwd: dirname(home) });
    assert.equal(r.code, 1, `${name}: ${r.stderr}`);
    assert.equal(r.stdout.includes(VALUE), false, `${name} revealed the value`);
    // A change may already fail at the store's lock file, before the audit append.
    const m = FAIL_CLOSED.exec(r.stderr) ?? (opts.alsoLock ? /^lsm: cannot (?:lock|write) \S+: (.+)$/m.exec(r.stderr) : null);
    assert.ok(m, `${name}: expected the documented failure, got: ${r.stderr}`);
    assert.match(m[1], why, name);
    assert.deepEqual(readFileSync(join(home, 'app.dev.age')), store, `${name} changed the store`);
    assert.deepEqual(debris(home), [], `${name} left temp or lock files`);
  }
  const list = await run(['list', 'app', 'dev'], { home, wrap: opts.wrap });
  assert.equal(list.code, 0, `list reveals nothing, so it only warns: ${list.stderr}`);
  assert.match(list.stderr, WARNED);
  assert.match(list.stdout, /^A$/m);
}

test('disk full (tmpfs): reveal and change commands fail closed, list warns, nothing is half-written', async (t) => {
  const m = mountTmpfs(1024);
  if ('skip' in m) return t.skip(m.skip);
  const home = join(m.dir, 'home');
  await homeAt(home, 20_000);
  const before = readStore(home, 'app', 'dev');
  const filler = fill(m.dir);
  fillSlack(join(home, 'audit.jsonl'));
  await assertFailsClosed(home, /^no space left on device$/, { alsoLock: true });

  // Room for the event but not for the store: the audit append succeeds, the save fails
  // (exit 1, the documented "cannot write"), the temp file is removed, the store is intact.
  free(filler, 12 * 1024);
  const big = await run(['set', 'app', 'dev', 'BIG', '-'], { home, input: 'b'.repeat(200_000) });
  assert.equal(big.code, 1, big.stderr);
  assert.match(big.stderr, /^lsm: cannot write \S+app\.dev\.age: no space left on device$/m);
  assert.deepEqual(readStore(home, 'app', 'dev'), before);
  assert.deepEqual(debris(home), []);
  const sets = rows(home).filter((r) => r.event === 'set' && r.fields.key === 'BIG');
  assert.equal(sets[0]?.outcome, 'ok', 'recorded before the save');
  if (sets[1]) assert.deepEqual([sets[1].outcome, sets[1].fields.reason], ['error', 'write_failed']);

  // audit: {on_failure: open} turns the failure into a warning.
  free(filler, Infinity);
  appendFileSync(join(home, 'config.yaml'), '\naudit:\n  on_failure: open\n');
  fill(m.dir);
  fillSlack(join(home, 'audit.jsonl'));
  const open = await run(['get', 'app', 'dev', 'A'], { home });
  assert.equal(open.code, 0, open.stderr);
  assert.equal(open.stdout, VALUE);
  assert.match(open.stderr, WARNED);

  // Space again: nothing was lost, the log verifies (a torn tail at most, repaired).
  free(filler, Infinity);
  const again = await run(['get', 'app', 'dev', 'A'], { home });
  assert.equal(again.stdout, VALUE, again.stderr);
  assert.deepEqual(readStore(home, 'app', 'dev'), before);
  assert.deepEqual(verifyFailures(await verify(home)), []);
});

test('file size limit (RLIMIT_FSIZE via prlimit): EFBIG fails closed; the short write is repaired by the next append', async (t) => {
  const lim = (extra: number) => fileSizeLimit(statSync(join(home, 'audit.jsonl')).size + extra);
  const home = join(tempDir('lsm-fsize-'), 'home');
  await homeAt(home, 30_000);
  const probe = lim(0);
  if ('skip' in probe) return t.skip(probe.skip);
  const before = readStore(home, 'app', 'dev');

  // The log may grow by 60 bytes: every append is cut short.
  await assertFailsClosed(home, /^file too large \(a file size limit\)$/, { wrap: (lim(60) as { wrap: string[] }).wrap });
  // Room for events, not for the 30 KB store: the save fails after its event.
  const set = await run(['set', 'app', 'dev', 'A', 'new-value'], { home, wrap: (lim(20_000) as { wrap: string[] }).wrap });
  assert.equal(set.code, 1, set.stderr);
  assert.match(set.stderr, /^lsm: cannot write \S+app\.dev\.age: file too large/m);
  assert.deepEqual(readStore(home, 'app', 'dev'), before);
  assert.deepEqual(debris(home), []);

  const r = await run(['get', 'app', 'dev', 'A'], { home });
  assert.equal(r.stdout, VALUE, r.stderr);
  const v = await verify(home);
  assert.deepEqual(verifyFailures(v), []);
  assert.ok(v.json.notes.every((n) => n.kind === 'repaired_tail'), JSON.stringify(v.json.notes));
  assert.ok(v.json.notes.length > 0, 'the cut-short appends left fragments, each repaired and reported');
  assert.ok(rows(home).some((x) => x.event === 'audit.repair'));
});

test('read-only home (read-only bind mount): fail closed, list warns, on_failure: open reveals with a warning', async (t) => {
  const home = initHome();
  await ok(['set', 'app', 'dev', 'A', VALUE], { home });
  const ro = bindReadOnly(home);
  if ('skip' in ro) return t.skip(ro.skip);
  try {
    const snap = snapshot(home);
    await assertFailsClosed(home, /^read-only file system$/, { alsoLock: true });
    assert.deepEqual(snapshotDiff(snap, snapshot(home)), []);
  } finally {
    ro.undo();
  }
  appendFileSync(join(home, 'config.yaml'), '\naudit:\n  on_failure: open\n');
  const ro2 = bindReadOnly(home);
  if ('skip' in ro2) return t.skip(ro2.skip);
  try {
    const r = await run(['get', 'app', 'dev', 'A'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, VALUE);
    assert.match(r.stderr, WARNED);
    const set = await run(['set', 'app', 'dev', 'A', 'x'], { home });
    assert.equal(set.code, 1, 'a change cannot happen on a read-only disk, whatever on_failure says');
    assert.match(set.stderr, /read-only file system/);
  } finally {
    ro2.undo();
  }
  assert.deepEqual(verifyFailures(await verify(home)), []);
});

test('read-only home for an ordinary user (chmod a-w, uid 65534): fail closed with "permission denied"', async (t) => {
  const who = unprivileged();
  if ('skip' in who) return t.skip(who.skip);
  const root = tempDir('lsm-ro-user-');
  chmodSync(root, 0o755);
  const home = join(root, 'home');
  await homeAt(home);
  for (const name of readdirSync(home)) {
    chownSync(join(home, name), who.uid, who.gid);
    chmodSync(join(home, name), 0o400);
  }
  chownSync(home, who.uid, who.gid);
  chmodSync(home, 0o500);
  const snap = snapshot(home);
  try {
    const store = readFileSync(join(home, 'app.dev.age'));
    for (const [name, args, input] of REVEAL_OR_CHANGE) {
      const r = await run(args, { home, input, wrap: who.wrap, cwd: '/' });
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.equal(r.stdout.includes(VALUE), false);
      assert.match(r.stderr, /(cannot record the audit event in \S+: permission denied; nothing was revealed or changed|cannot lock \S+: permission denied)/, name);
      assert.deepEqual(readFileSync(join(home, 'app.dev.age')), store);
    }
    const list = await run(['list', 'app', 'dev'], { home, wrap: who.wrap, cwd: '/' });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stderr, WARNED);
    assert.deepEqual(snapshotDiff(snap, snapshot(home)), []);
  } finally {
    chmodSync(home, 0o700); // so that the temp directory can be removed
  }
});

// ---- The collector: a command never waits on it, and nothing is lost while it is away.

/** A TCP server that answers every connection with bytes that are not HTTP, then hangs up. */
async function garbageServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.end(Buffer.from([0x00, 0xff, 0xfe, 0x13, 0x37, ...Buffer.from('\r\n\r\nnot http at all\r\n')]));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/v1/logs`,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

async function faultyEndpoint(kind: string): Promise<string> {
  if (kind === 'black-holed') {
    const h = await blackHole();
    closers.push(h.close);
    return h.url;
  }
  if (kind === 'garbage bytes') {
    const g = await garbageServer();
    closers.push(g.close);
    return g.url;
  }
  const r = await Receiver.start();
  closers.push(() => r.stop());
  if (kind === 'down') {
    await r.stop();
    return r.url;
  }
  r.answer = kind === 'slow' ? () => ({ ...(OK as object), status: 200, delayMs: 4000 } as typeof OK)
    : kind === 'garbage 200' ? () => ({ status: 200, body: '<html>captive portal</html>', headers: { 'content-type': 'text/html' } })
    : () => ({ status: 500, body: 'internal error' });
  return r.url;
}

// Concurrent: most of each case is waiting for a shipper to give up.
describe('collector faults', { concurrency: true }, () => {
for (const kind of ['down', 'black-holed', 'slow', 'garbage 200', 'garbage bytes', 'HTTP 500']) {
  it(`collector ${kind}: commands succeed without waiting, the cursor stays, all arrives once it is back`, async () => {
    const home = initHome();
    const url = await faultyEndpoint(kind);
    enableShipping(home, { enabled: true, endpoint: url, timeout: '3s', max_retries: 0 });
    for (const args of [['set', 'app', 'dev', 'A', VALUE], ['get', 'app', 'dev', 'A'], ['list', 'app', 'dev'], ['set', 'app', 'dev', 'B', 'b']]) {
      const r = await run(args, { home });
      assert.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
      assert.equal(r.stderr, '', 'a collector outage is not the command\'s business');
      // The shipper waits up to 3 s per request; the command must not.
      assert.ok(r.ms < 2800, `${args[0]} took ${r.ms.toFixed(0)} ms`);
    }
    assert.ok(await shipperGone(home, 20_000), 'the background shipper gave up');
    assert.equal(cursor(home), undefined, 'nothing was acknowledged, so the cursor did not move');
    const status = await run(['audit', 'ship', '--status', '--format', 'json'], { home });
    const s = JSON.parse(status.stdout);
    assert.equal(s.pending, shippableSeqs(home).length);

    // A working collector at the configured address.
    const good = await Receiver.start();
    closers.push(() => good.stop());
    const config = join(home, 'config.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(url, good.url));
    const shipped = await run(['audit', 'ship'], { home });
    assert.equal(shipped.code, 0, shipped.stderr);
    assert.deepEqual(good.deliveredSeqs(), shippableSeqs(home), 'every event arrived');
    assert.deepEqual(good.validationErrors(), []);
    assert.deepEqual(verifyFailures(await verify(home)), []);
    assert.deepEqual(debris(home), []);
  });
}
});

// ---- Every durable step of a command, failed or killed, deterministically (strace)

test('every durable step of set and of a sealed get, failed (ENOSPC, EIO) or killed: old or new content, recorded first, nothing left', { timeout: 300_000 }, async (t) => {
  if (!straceWorks()) return t.skip('strace is missing or cannot trace here (ptrace denied)');
  const home = initHome();
  await ok(['set', 'app', 'dev', 'A', 'v0'], { home });
  const vk = sealsAvailable() ? await sealHome(home) : undefined;
  const traceFile = join(tempDir('lsm-strace-'), 'trace');
  const traced = ['-f', '-qq', '-e', `trace=${TRACED.join(',')}`];
  let i = 0;
  let runs = 0;
  const outcomes = { failed: 0, tolerated: 0, killed: 0 };
  const found: string[] = [];
  // Failures lsm rightly goes on after: a lock's temp file or the lock itself not removed, the directory's fsync.
  const tolerated: string[] = [];
  for (const command of ['set', 'get'] as const) {
    const argsFor = () => (command === 'set' ? ['set', 'app', 'dev', 'A', `v${++i}`] : ['get', 'app', 'dev', 'A']);
    const probe = await run(argsFor(), { home, wrap: ['strace', ...traced, '-o', traceFile, '--'] });
    assert.equal(probe.code, 0, probe.stderr);
    const steps = homeSteps(readFileSync(traceFile, 'utf8'), home);
    assert.ok(steps.length >= 8, `found the steps of ${command}: ${JSON.stringify(steps)}`);
    found.push(`${command}: ${steps.map((s) => s.what).join(', ')}`);
    for (const step of steps) {
      for (const fault of [`error=${ERROR.get(step.call) ?? 'ENOSPC'}`, 'signal=SIGKILL']) {
        const before = readStore(home, 'app', 'dev')!;
        const rowsBefore = rows(home).length;
        const args = argsFor();
        const r = await run(args, { home, wrap: ['strace', ...traced, '-e', `inject=${step.call}:${fault}:when=${step.n}`, '-o', '/dev/null', '--'] });
        runs++;
        const label = `${command}: ${fault} at ${step.what} (${step.call} #${step.n})`;
        outcomes[r.signal ? 'killed' : r.code === 0 ? 'tolerated' : 'failed']++;
        if (!r.signal && r.code === 0) tolerated.push(`${command}: ${step.what.replace(/\.\d+\.[0-9a-f]+(\.tmp)?$/, '.*$1')}`);
        // strace reports a killed tracee as its own death by the signal.
        if (fault.startsWith('error')) {
          assert.ok(r.code === 0 || r.code === 1, `${label}: exit ${r.code}: ${r.stderr}`);
          if (r.code === 1) assert.match(r.stderr, DOCUMENTED, label);
          assert.doesNotMatch(r.stderr, /unexpected internal error|\n\s+at /, label);
        }
        assertOldOrNew({ command, label, args, r, before, now: readStore(home, 'app', 'dev')!, added: rows(home).slice(rowsBefore) });
        // The next command clears what the failed one left (stale locks, temp files).
        const next = await run(['set', 'app', 'dev', 'Z', `z${i}`], { home });
        assert.equal(next.code, 0, `${label}: the next command: ${next.stderr}`);
        assert.deepEqual(debris(home), [], `${label}: leftovers after the next command`);
      }
    }
  }
  const v = await verify(home, vk);
  assert.deepEqual(verifyFailures(v), []);
  for (const n of v.json.notes) assert.ok(['repaired_tail', 'torn_tail'].includes(n.kind), JSON.stringify(n));
  t.diagnostic(`${runs} runs, each failing or killing one step (${JSON.stringify(outcomes)})${vk ? '; seals verified' : ''}`);
  for (const f of found) t.diagnostic(f);
  t.diagnostic(`went on after a failed ${tolerated.join('; ')}`);
});
