// The fault suite for the keeper's writes (docs/reliability.md): in a protected home the
// keeper is the process that writes the log, the stores and its checkpoint, so each of
// its durable steps for a `set` and a `get` is failed (ENOSPC, EIO) or killed in turn,
// by strace attached to the running keeper. What must hold is what holds for a home
// without one: the store old or new, new only with its event, a value revealed only
// after its event, the documented message and never a stack trace, nothing left behind,
// and a log that verifies. A killed keeper is unlocked again; that unlock records the
// kill (keeper.unclean_exit), which is the keeper's alarm and not a verify failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LSM_BIN, cleanEnv, initHome, lsm, lsmCommand, tempDir } from './helpers.js';
import { DOCUMENTED, ERROR, TRACED, assertOldOrNew, debris, homeSteps, ok, readStore, rows, run, sleep, straceWorks, verify, verifyFailures, type Step } from './fixtures/reliability.js';
import { resolveHome } from '../src/home.js';
import { loadIdentity } from '../src/identity.js';
import { protectIdentity } from '../src/protect.js';

const PASS = 'keeper faults passphrase';
// The keeper here checkpoints right after each reply (its default is a second later), and
// each run waits for that checkpoint, so that a run's steps do not depend on when the
// previous run's checkpoint fell.

function keeperPid(home: string): number | undefined {
  const r = lsm(['keeper', 'status', '--format', 'json'], { home });
  const s = JSON.parse(r.stdout) as { running: boolean; pid?: number };
  return s.running ? s.pid : undefined;
}

/** Starts the keeper as `lsm unlock` does (detached, the passphrase on a pipe), with its checkpoint at once. */
async function unlock(home: string): Promise<number> {
  const [cmd, prefix] = lsmCommand();
  const child = spawn(cmd, [...prefix, '__keeper', '--dir', home, '--ttl', '3600000', '--idle', '3600000', '--checkpoint-ms', '0'], {
    detached: true, stdio: ['pipe', 'pipe', 'ignore'], env: cleanEnv({}), cwd: home,
  });
  child.stdin!.end(`${PASS}\n`);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  await new Promise<void>((r) => child.stdout!.on('end', () => r()));
  child.unref();
  assert.match(out, /^ok \d+/, out);
  return keeperPid(home)!;
}

function tracerOf(pid: number): number {
  try {
    return Number(/^TracerPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** strace on the keeper's threads; resolves once attached, stops (detaching) when asked. */
/**
 * The checkpoint's identity now: each checkpoint is a new file renamed into place. (Its
 * mtime is no clock to compare with: on this kernel it was seen behind the test's own.)
 */
function checkpointOf(home: string): number {
  try {
    return statSync(join(home, 'keeper.state.age')).ino;
  } catch {
    return -1;
  }
}

function logSize(home: string): number {
  try {
    return statSync(join(home, 'audit.jsonl')).size;
  } catch {
    return 0;
  }
}

/**
 * Waits until the keeper has checkpointed since `before.ino` (it does after each append),
 * or a while has passed. A run that appended nothing, or whose keeper died, has none to come.
 */
async function settled(home: string, before: { ino: number; log: number }): Promise<void> {
  if (logSize(home) === before.log || keeperPid(home) === undefined) return;
  for (let i = 0; i < 100 && checkpointOf(home) === before.ino; i++) await sleep(20);
}

const mark = (home: string) => ({ ino: checkpointOf(home), log: logSize(home) });

async function attach(pid: number, args: string[]): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn('strace', ['-f', '-qq', '-p', String(pid), ...args], { stdio: 'ignore' });
  const gone = new Promise<void>((r) => child.on('close', () => r()));
  for (let i = 0; i < 200 && tracerOf(pid) === 0; i++) await sleep(10);
  assert.notEqual(tracerOf(pid), 0, 'strace did not attach to the keeper');
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await gone;
    },
  };
}

test('every durable step of the keeper, for a set and a get, failed (ENOSPC, EIO) or killed: old or new content, recorded first, nothing left', { timeout: 400_000 }, async (t) => {
  if (!straceWorks()) return t.skip('strace is missing or cannot trace here (ptrace denied)');
  // The native keeper runs the same code for its writes; traced, its runtime's threads made
  // each step slower than the whole suite's budget allows (over 400 s), so it runs on Node.
  if (!LSM_BIN.endsWith('.cjs') && !LSM_BIN.endsWith('.js')) return t.skip('the keeper traced here is the Node build\'s');
  const home = initHome();
  await ok(['set', 'app', 'dev', 'A', 'v0'], { home });
  // Protected here with a low scrypt work factor, so that a killed keeper is unlocked again in milliseconds.
  const h = resolveHome(home, {});
  const id = await loadIdentity(h);
  await protectIdentity(h, id, PASS, { logN: 10 });
  const identity = id.identity;
  let pid = await unlock(home);
  const traceFile = join(tempDir('lsm-strace-'), 'trace');
  let i = 0;
  let runs = 0;
  const outcomes = { failed: 0, tolerated: 0, killed: 0 };
  const found: string[] = [];
  for (const command of ['set', 'get'] as const) {
    const argsFor = () => (command === 'set' ? ['set', 'app', 'dev', 'A', `v${++i}`] : ['get', 'app', 'dev', 'A']);
    // The probe: which steps of the keeper touch the home, the checkpoint after the reply included.
    const probe = await attach(pid, ['-e', `trace=${TRACED.join(',')}`, '-o', traceFile]);
    const t0 = mark(home);
    const p = await run(argsFor(), { home });
    await settled(home, t0);
    await probe.stop();
    assert.equal(p.code, 0, p.stderr);
    const steps: Step[] = homeSteps(readFileSync(traceFile, 'utf8'), home, String(pid));
    assert.ok(steps.some((s) => s.what === 'write audit.jsonl'), `the keeper's append is among its steps: ${JSON.stringify(steps)}`);
    assert.ok(steps.some((s) => /keeper\.state\.age/.test(s.what)), `its checkpoint is among its steps: ${JSON.stringify(steps)}`);
    found.push(`${command}: ${steps.map((s) => s.what).join(', ')}`);
    for (const step of steps) {
      for (const fault of [`error=${ERROR.get(step.call) ?? 'ENOSPC'}`, 'signal=SIGKILL']) {
        pid = keeperPid(home) ?? await unlock(home);
        const before = readStore(home, 'app', 'dev', identity)!;
        const rowsBefore = rows(home).length;
        const args = argsFor();
        const label = `${command}: ${fault} at ${step.what} (${step.call} #${step.n})`;
        const s = await attach(pid, ['-e', `trace=${step.call}`, '-e', `inject=${step.call}:${fault}:when=${step.n}`, '-o', '/dev/null']);
        const t1 = mark(home);
        const r = await run(args, { home });
        await settled(home, t1);
        await s.stop();
        runs++;
        const died = keeperPid(home) === undefined;
        outcomes[died ? 'killed' : r.code === 0 ? 'tolerated' : 'failed']++;
        // A client whose keeper died under it says so; one whose keeper failed a step says what failed.
        assert.ok([0, 1, 5].includes(r.code ?? -1), `${label}: exit ${r.code}: ${r.stderr}`);
        // A reply the keeper could not write leaves the client without one, which it says.
        if (r.code === 1 && !died) assert.match(r.stderr, new RegExp(`${DOCUMENTED.source}|^lsm: the keeper closed the connection without an answer$`, 'm'), label);
        assert.doesNotMatch(r.stderr, /unexpected internal error|\n\s+at /, label);
        assertOldOrNew({ command, label, args, r, before, now: readStore(home, 'app', 'dev', identity)!, added: rows(home).slice(rowsBefore) });
        // The next command (through a keeper unlocked again if this one died) clears what the failed one left.
        if (died) pid = await unlock(home);
        const t2 = mark(home);
        const next = await run(['set', 'app', 'dev', 'Z', `z${runs}`], { home });
        await settled(home, t2);
        assert.equal(next.code, 0, `${label}: the next command: ${next.stderr}`);
        assert.deepEqual(debris(home), [], `${label}: leftovers after the next command`);
      }
    }
  }
  lsm(['keeper', 'stop'], { home });
  const v = await verify(home);
  assert.deepEqual(verifyFailures(v), []);
  for (const n of v.json.notes) assert.ok(['repaired_tail', 'torn_tail'].includes(n.kind), JSON.stringify(n));
  // Every kill of the keeper was noticed by the keeper after it.
  const alarms = rows(home).filter((x) => x.event === 'keeper.unclean_exit').length;
  assert.ok(alarms >= outcomes.killed, `${outcomes.killed} kills, ${alarms} keeper.unclean_exit rows`);
  assert.equal(rows(home).filter((x) => x.event === 'audit.foreign_append').length, 0, 'a row of the keeper was taken for a foreign one');
  t.diagnostic(`${runs} runs, each failing or killing one step of the keeper (${JSON.stringify(outcomes)})`);
  for (const f of found) t.diagnostic(f);
});

test('the keeper SIGKILLed at random moments under 8 concurrent clients: every acknowledged set is in the store with its event, the log verifies', { timeout: 300_000 }, async (t) => {
  const home = initHome();
  await ok(['set', 'app', 'dev', 'A', 'v0'], { home });
  const h = resolveHome(home, {});
  const id = await loadIdentity(h);
  await protectIdentity(h, id, PASS, { logN: 10 });
  const seed = Number(process.env.LSM_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  let x = seed;
  // mulberry32, so that a seed replays the schedule
  const rnd = () => {
    x = (x + 0x6d2b79f5) | 0;
    let r = Math.imul(x ^ (x >>> 15), 1 | x);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
  const rounds = 12;
  let acknowledged = 0;
  let lost = 0;
  for (let round = 0; round < rounds; round++) {
    const pid = await unlock(home);
    const clients = Array.from({ length: 8 }, (_, k) => {
      const value = `r${round}-k${k}`;
      return run(['set', 'app', 'dev', `K${k}`, value], { home }).then((r) => ({ r, key: `K${k}`, value }));
    });
    // Once the first client is through (start-up is most of a client's time, and a loaded
    // machine stretches it), the kill falls while the others are being served.
    await Promise.race(clients);
    await sleep(Math.floor(rnd() * 300));
    try { process.kill(pid, 'SIGKILL'); } catch { /* it had locked already */ }
    const done = await Promise.all(clients);
    const store = readStore(home, 'app', 'dev', id.identity)!;
    const log = rows(home);
    for (const { r, key, value } of done) {
      assert.doesNotMatch(r.stderr, /unexpected internal error|\n\s+at /, `${key}: ${r.stderr}`);
      if (r.code !== 0) { lost++; continue; }
      acknowledged++;
      // Acknowledged: in the store unless a later round overwrote it (this round's value is unique), and recorded.
      assert.equal(store.get(key), value, `seed ${seed} round ${round}: ${key} acknowledged but not in the store`);
      assert.ok(log.some((row) => row.event === 'set' && row.fields?.key === key && row.outcome === 'ok'), `seed ${seed}: ${key} without its event`);
    }
  }
  await unlock(home);
  const next = await run(['set', 'app', 'dev', 'Z', 'z'], { home });
  assert.equal(next.code, 0, next.stderr);
  lsm(['keeper', 'stop'], { home });
  assert.deepEqual(debris(home), []);
  const v = await verify(home);
  assert.deepEqual(verifyFailures(v), [], `seed ${seed}`);
  t.diagnostic(`seed ${seed}: ${rounds} kills, ${acknowledged} sets acknowledged and kept, ${lost} refused or cut off by a kill`);
});
