// SIGKILL at random moments. Each scenario runs one lsm command over and over, killing
// it after a random delay drawn from its own measured duration (weighted towards the
// end, where the locks, appends, fsyncs and renames are), and checks after every kill:
// each store decrypts to the old or the new content, never to neither; a change is in
// the store only if its event is in the log; the shipper's cursor never passes a row
// the collector did not take. After the loop the log must verify, with no problem but
// torn tails (repaired by the next append), and the seals too.
//
// LSM_CRASH_ITERATIONS sets the total (100 for `npm test`, 500 for `npm run
// test:stress`); LSM_CRASH_SEED replays a run (the seed is printed); LSM_CRASH_ONLY
// names the scenarios to run (set,import,edit,append,seal,ship,rotate).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { initHome, present, tempDir } from './helpers.js';
// @ts-expect-error: a plain .mjs script without type declarations
import { rng } from '../scripts/gen-audit-log.mjs';
import { Receiver, OK } from './fixtures/otlp/receiver.js';
import { appendRow, enableShipping, shippableSeqs, cursor } from './fixtures/otlp/ship-env.js';
import { isShippable } from '../src/audit/redact.js';
import {
  logPath, ok, readStore, rows, run, sealHome, sealsAvailable, seqProblems, spawnLsm, verify, verifyFailures, type Run, type RunOpts, debris,
} from './fixtures/reliability.js';

const TOTAL = Number(process.env.LSM_CRASH_ITERATIONS ?? 100);
const SEED = Number(process.env.LSM_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));

// mulberry32: a seed gives the same kill schedule again.
const rnd = rng(SEED);

const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.stop().catch(() => {});
});

type Map2 = Map<string, string>;
const same = (a: Map2 | undefined, b: Map2 | undefined) =>
  JSON.stringify([...(a ?? new Map())].sort()) === JSON.stringify([...(b ?? new Map())].sort());

/** How the kills fell, for the diagnostics: a loop that never hits a write proves little. */
interface Tally {
  iterations: number;
  killed: number;
  before: number;
  changed: number;
  torn: number;
  recordedNotChanged: number;
}
const tally = (): Tally => ({ iterations: 0, killed: 0, before: 0, changed: 0, torn: 0, recordedNotChanged: 0 });

/**
 * How a kill is timed. Half the kills fall anywhere in a run (a delay drawn from its
 * whole measured duration); the other half inside its critical section: the watcher
 * sees the lock file appear (inotify) and the kill follows after a delay drawn from the
 * measured time between that moment and the end of a run. Start-up is most of a run,
 * so without the second half few kills would ever land among the writes.
 */
interface Timing {
  whole: number;
  /** Time from the anchor file's appearance to the exit, or undefined when it never appeared. */
  window?: number;
}

class Anchor {
  private armed: (() => void) | undefined;
  private readonly watcher: FSWatcher;
  seen = 0;
  constructor(dir: string, private readonly name: RegExp) {
    this.watcher = watch(dir, (_event, file) => {
      if (file && this.name.test(String(file)) && this.armed) {
        const fire = this.armed;
        this.armed = undefined;
        this.seen++;
        fire();
      }
    });
  }
  /** Calls `fn` the next time the anchor file appears. */
  arm(fn: () => void): void {
    this.armed = fn;
  }
  disarm(): void {
    this.armed = undefined;
  }
  close(): void {
    this.watcher.close();
  }
}

type Step = { args: string[]; opts: RunOpts };

/** Median durations of a few undisturbed runs: the scale of the kill delays. */
async function calibrate(anchor: Anchor, make: (i: number) => Step | Promise<Step>): Promise<Timing> {
  const whole: number[] = [];
  const windows: number[] = [];
  for (let i = 0; i < 3; i++) {
    const { args, opts } = await make(-1 - i);
    let at: number | undefined;
    anchor.arm(() => (at = performance.now()));
    const r = await run(args, opts);
    const end = performance.now();
    anchor.disarm();
    assert.equal(r.code, 0, `calibration run of lsm ${args.join(' ')}: ${r.stderr}`);
    whole.push(r.ms);
    if (at !== undefined) windows.push(end - at);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  return { whole: median(whole), window: windows.length ? median(windows) : undefined };
}

let flip = 0;
async function killed(anchor: Anchor, args: string[], opts: RunOpts, timing: Timing): Promise<Run> {
  if (timing.window === undefined || flip++ % 2 === 0) {
    // Anywhere in the run, weighted towards its end.
    return spawnLsm(args, { ...opts, killAfterMs: timing.whole * (0.2 + 0.9 * rnd()) }).done;
  }
  const p = spawnLsm(args, opts);
  const delay = timing.window * 1.1 * rnd();
  anchor.arm(() => setTimeout(() => p.child.kill('SIGKILL'), delay));
  const r = await p.done;
  anchor.disarm();
  return r;
}

const lastByteIsNewline = (home: string) => {
  const b = readFileSync(logPath(home));
  return b.length === 0 || b[b.length - 1] === 0x0a;
};

/** The log and stores a loop leaves behind must verify as a whole. */
async function verifyAfter(home: string, vk?: string): Promise<void> {
  const v = await verify(home, vk);
  assert.deepEqual(verifyFailures(v), [], `seed ${SEED}`);
  const kinds = new Set(v.json.notes.map((n) => n.kind));
  for (const k of kinds) assert.ok(['repaired_tail', 'torn_tail', 'loose_mode'].includes(k), `unexpected note ${k}`);
  if (vk) for (const name of ['seals', 'completeness']) assert.equal(v.json.verdicts?.[name]?.status, 'ok', `${name}: ${v.json.verdicts?.[name]?.summary} (seed ${SEED})`);
}

/** After a command that completes, nothing of the killed ones is left: no temp file, no lock. */
function assertClean(home: string, what: string): void {
  assert.deepEqual(debris(home), [], `${what}: leftovers of killed runs after a completed one`);
}

const fmtTiming = (tm: Timing) => `run ${tm.whole.toFixed(0)} ms, critical section ${tm.window?.toFixed(0) ?? '?'} ms`;

/**
 * A store-changing command killed at random. `next(i)` gives the command and the content
 * the store has when it completes; the store must hold the old or that content, and the
 * new one only with a matching event in the log.
 */
async function storeLoop(
  t: { diagnostic(s: string): void },
  name: string,
  n: number,
  home: string,
  next: (i: number, old: Map2) => Step & { expect: Map2; event: string },
): Promise<Tally> {
  const tl = tally();
  const anchor = new Anchor(home, /^app\.dev\.age\.lock$/);
  try {
    let state = readStore(home, 'app', 'dev')!;
    const timing = await calibrate(anchor, (i) => next(i, readStore(home, 'app', 'dev')!));
    state = readStore(home, 'app', 'dev')!;
    for (let i = 0; i < n; i++) {
      const step = next(i, state);
      const rowsBefore = rows(home).length;
      const r = await killed(anchor, step.args, step.opts, timing);
      tl.iterations++;
      if (r.signal === 'SIGKILL') tl.killed++;
      else assert.equal(r.code, 0, `${name} #${i} was not killed and failed: ${r.stderr}`);
      const now = readStore(home, 'app', 'dev');
      const isOld = same(now, state);
      const isNew = same(now, step.expect);
      assert.ok(isOld || isNew, `${name} #${i} (seed ${SEED}): the store is neither the old nor the new content`);
      if (r.signal !== 'SIGKILL') assert.ok(isNew, `${name} #${i}: a completed run left the old content`);
      // edit records twice: \`open\` before the editor, \`save\` before the write; only the latter counts.
      const added = rows(home).slice(rowsBefore).filter((x) => x.event === step.event && x.outcome === 'ok' && x.fields?.stage !== 'open');
      if (isNew && !isOld) {
        tl.changed++;
        assert.ok(added.length > 0, `${name} #${i} (seed ${SEED}): the store changed but no ${step.event} event was recorded first`);
      } else if (added.length > 0) tl.recordedNotChanged++;
      else tl.before++;
      if (!lastByteIsNewline(home)) tl.torn++;
      state = now!;
    }
    t.diagnostic(`${name}: ${JSON.stringify(tl)} (${fmtTiming(timing)})`);
  } finally {
    anchor.close();
  }
  return tl;
}

/** A home whose app/dev store has \`keys\` secrets: a bigger store widens the write window. */
async function homeWithStore(keys: number): Promise<string> {
  const home = initHome();
  const text = Array.from({ length: keys }, (_, k) => `KEY_${k}=${'v'.repeat(40)}-${k}`).join('\n');
  await ok(['import', 'app', 'dev', '-'], { home, input: `${text}\n` });
  return home;
}

// The share of the iterations each scenario gets; together they make TOTAL.
const SHARE = { set: 0.15, import: 0.15, edit: 0.15, append: 0.15, seal: 0.1, ship: 0.15, rotate: 0.15 };
const count = (k: keyof typeof SHARE) => Math.max(3, Math.round(TOTAL * SHARE[k]));
// LSM_CRASH_ONLY=rotate,set runs only those scenarios (while working on one).
const ONLY = process.env.LSM_CRASH_ONLY?.split(',');
const want = (k: keyof typeof SHARE) => !ONLY || ONLY.includes(k);

test(`crash loop: ${TOTAL} SIGKILLs at random moments (seed ${SEED})`, { timeout: 900_000 }, async (t) => {
  t.diagnostic(`seed ${SEED}; replay with LSM_CRASH_SEED=${SEED} LSM_CRASH_ITERATIONS=${TOTAL}`);
  // Two at a time: one core each, so the calibrated durations stay true. Both lanes run
  // to their end before a failure is reported, so that none outlives the test.
  const lanes = await Promise.allSettled([
    (async () => {
      if (want('set')) await setLoop(t);
      if (want('edit')) await editLoop(t);
      if (want('seal')) await sealLoop(t);
    })(),
    (async () => {
      if (want('import')) await importLoop(t);
      if (want('append')) await appendLoop(t);
      if (want('ship')) await shipLoop(t);
      if (want('rotate')) await rotateLoop(t);
    })(),
  ]);
  for (const lane of lanes) if (lane.status === 'rejected') throw lane.reason;
});

async function setLoop(t: { diagnostic(s: string): void }): Promise<void> {
  const home = await homeWithStore(300);
  await storeLoop(t, 'set', count('set'), home, (i, old) => {
    const key = `KEY_${Math.abs(i) % 7}`;
    const val = `set-${i}-${'s'.repeat(Math.abs(i) % 50)}`;
    return { args: ['set', 'app', 'dev', key, val], opts: { home }, expect: new Map([...old, [key, val]]), event: 'set' };
  });
  await ok(['set', 'app', 'dev', 'FINAL', 'done'], { home });
  assertClean(home, 'set');
  await verifyAfter(home);
}

async function importLoop(t: { diagnostic(s: string): void }): Promise<void> {
  const home = await homeWithStore(300);
  const scratch = tempDir('lsm-crash-import-');
  await storeLoop(t, 'import', count('import'), home, (i, old) => {
    const file = join(scratch, `i${i}.env`);
    const incoming = new Map<string, string>();
    for (let k = 0; k < 40; k++) incoming.set(`IMP_${(((k * 7 + i) % 60) + 60) % 60}`, `import-${i}-${k}`);
    writeFileSync(file, [...incoming].map(([k, v]) => `${k}="${v}"`).join('\n'));
    const expect = new Map(old);
    for (const [k, v] of incoming) expect.set(k, v);
    return { args: ['import', 'app', 'dev', file], opts: { home }, expect, event: 'import' };
  });
  await ok(['set', 'app', 'dev', 'FINAL', 'done'], { home });
  assertClean(home, 'import');
  await verifyAfter(home);
}

async function editLoop(t: { diagnostic(s: string): void }): Promise<void> {
  const home = await homeWithStore(150);
  const bin = tempDir('lsm-crash-edit-');
  const editor = join(bin, 'editor');
  // Replaces the text with the file named by EDIT_SRC: the whole store changes at once.
  writeFileSync(editor, '#!/bin/sh\ncat "$EDIT_SRC" > "$1"\n');
  chmodSync(editor, 0o755);
  await storeLoop(t, 'edit', count('edit'), home, (i) => {
    const src = join(bin, `src-${i}`);
    const expect = new Map<string, string>();
    for (let k = 0; k < 150; k++) expect.set(`EDITED_${k}`, `edit-${i}-${k}`);
    writeFileSync(src, `# edit ${i}\n${[...expect].map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
    return { args: ['edit', 'app', 'dev'], opts: { home, env: { EDITOR: editor, VISUAL: undefined, EDIT_SRC: src } }, expect, event: 'edit' };
  });
  // The plaintext of an edit killed with SIGKILL stays in the home until the next command (an edit here) sweeps it.
  const src = join(bin, 'src-final');
  writeFileSync(src, 'FINAL=1\n');
  await ok(['edit', 'app', 'dev'], { home, env: { EDITOR: editor, VISUAL: undefined, EDIT_SRC: src } });
  assert.deepEqual(readdirSync(home).filter((n) => n.startsWith('lsm-edit-')), [], 'the next command swept every killed edit\'s plaintext');
  assertClean(home, 'edit');
  await verifyAfter(home);
}

/** Commands that append one event each, killed at random: what the log is left with must verify. */
async function appendLoop(t: { diagnostic(s: string): void }): Promise<void> {
  const home = await homeWithStore(5);
  const tl = tally();
  const anchor = new Anchor(home, /^audit\.jsonl\.lock$/);
  try {
    const timing = await calibrate(anchor, () => ({ args: ['list', 'app', 'dev'], opts: { home } }));
    for (let i = 0; i < count('append'); i++) {
      // list reveals nothing; get fails closed: both append one event.
      const args = i % 2 ? ['list', 'app', 'dev'] : ['get', 'app', 'dev', 'KEY_1'];
      const before = rows(home).length;
      const r = await killed(anchor, args, { home }, timing);
      tl.iterations++;
      if (r.signal === 'SIGKILL') tl.killed++;
      else assert.equal(r.code, 0, r.stderr);
      if (rows(home).length > before) tl.changed++;
      else tl.before++;
      if (!lastByteIsNewline(home)) tl.torn++;
      if (args[0] === 'get' && r.stdout !== '') assert.ok(rows(home).length > before, 'a value was printed that was not recorded');
      if (i % 10 === 9) await verifyAfter(home);
    }
    await ok(['list', 'app', 'dev'], { home });
    assertClean(home, 'append');
    t.diagnostic(`append: ${JSON.stringify(tl)} (${fmtTiming(timing)})`);
  } finally {
    anchor.close();
  }
  await verifyAfter(home);
  assert.deepEqual(seqProblems(rows(home)), []);
}

/** Sealed appends killed at random, between the row, its fsync and the key file's evolution. */
async function sealLoop(t: { diagnostic(s: string): void }): Promise<void> {
  if (!sealsAvailable()) {
    t.diagnostic('seal: this build has no audit seal command; skipped');
    return;
  }
  const home = await homeWithStore(5);
  const vk = await sealHome(home);
  const tl = tally();
  const anchor = new Anchor(home, /^audit\.jsonl\.lock$/);
  try {
    const timing = await calibrate(anchor, () => ({ args: ['get', 'app', 'dev', 'KEY_1'], opts: { home } }));
    for (let i = 0; i < count('seal'); i++) {
      const before = rows(home).length;
      const r = await killed(anchor, ['get', 'app', 'dev', 'KEY_2'], { home }, timing);
      tl.iterations++;
      if (r.signal === 'SIGKILL') tl.killed++;
      else assert.equal(r.code, 0, r.stderr);
      if (rows(home).length > before) tl.changed++;
      else tl.before++;
      if (!lastByteIsNewline(home)) tl.torn++;
      if (i % 10 === 9) await verifyAfter(home, vk);
    }
    // The next append after the last kill catches the key file up, whatever it found.
    await ok(['get', 'app', 'dev', 'KEY_1'], { home });
    assertClean(home, 'seal');
    t.diagnostic(`seal: ${JSON.stringify(tl)} (${fmtTiming(timing)})`);
  } finally {
    anchor.close();
  }
  await verifyAfter(home, vk);
}

/** \`lsm audit ship\` killed at random, with rows added between runs: the cursor never skips one. */
async function shipLoop(t: { diagnostic(s: string): void }): Promise<void> {
  const home = await homeWithStore(3);
  const receiver = await Receiver.start();
  receivers.push(receiver);
  // Answers come a little late at random: kills land between the send and the cursor write.
  receiver.answer = () => ({ status: 200, body: '{}', headers: { 'content-type': 'application/json' }, delayMs: Math.floor(rnd() * 25) });
  enableShipping(home, { enabled: true, endpoint: receiver.url, batch_size: 3, timeout: '2s', max_retries: 0 });
  const acked = () => {
    // Seqs of every event in a request the collector answered 2xx.
    const set = new Set<number>();
    for (const d of receiver.delivered()) if (d.attrs['lsm.kind'] === 'event') set.add(Number(d.attrs['lsm.seq']));
    return set;
  };
  const add = (i: number) => {
    for (let k = 0; k < 4; k++) appendRow(home, { event: 'get', app: 'app', env: 'dev', fields: { key: `KEY_${k}` } });
    if (i % 3 === 0) appendRow(home, { event: 'audit.tail', localOnly: true });
  };
  add(-10);
  const tl = tally();
  const anchor = new Anchor(home, /^audit\.cursor$/);
  try {
    // The anchor is the first cursor write: kills then fall among the later batches.
    const timing = await calibrate(anchor, (i) => {
      add(i);
      return { args: ['audit', 'ship'], opts: { home } };
    });
    for (let i = 0; i < count('ship'); i++) {
      add(i);
      const r = await killed(anchor, ['audit', 'ship'], { home }, timing);
      tl.iterations++;
      if (r.signal === 'SIGKILL') tl.killed++;
      else assert.equal(r.code, 0, `ship #${i}: ${r.stderr}`);
      const c = cursor(home);
      if (c) {
        // The cursor never passes a row the collector has not taken.
        const got = acked();
        const log = rows(home);
        const missing = log.filter((x) => x.seq <= c.seq && isShippable(x) && !got.has(x.seq)).map((x) => x.seq);
        assert.deepEqual(missing, [], `ship #${i} (seed ${SEED}): the cursor (seq ${c.seq}) skipped rows the collector never took`);
        assert.equal(log.find((x) => x.seq === c.seq)?.hash, c.hash, 'the cursor names a row of the log');
        if (c.seq < log.at(-1).seq) tl.before++;
        else tl.changed++;
      }
    }
    t.diagnostic(`ship: ${JSON.stringify(tl)} (${fmtTiming(timing)}, ${receiver.requests.length} requests)`);
  } finally {
    anchor.close();
  }
  // After the kills, one undisturbed run delivers everything.
  receiver.answer = () => OK;
  const last = await run(['audit', 'ship'], { home });
  assert.equal(last.code, 0, last.stderr);
  assert.deepEqual([...acked()].sort((a, b) => a - b), shippableSeqs(home), `every event arrived (seed ${SEED}; the last run said: ${last.stdout.trim()} / ${last.stderr.trim()}; left: ${readdirSync(home).join(' ')})`);
  assert.deepEqual(receiver.validationErrors(), []);
  // The cursor is past the last row sent and within the log. Local-only rows at the end
  // (the log may end with an audit.tail) are covered by a batch's checkpoint when one is
  // sent after them, never sent alone, so the cursor may stop before them.
  const end = cursor(home)?.seq ?? 0;
  assert.ok(end >= shippableSeqs(home).at(-1)! && end <= rows(home).at(-1).seq, `the cursor (seq ${end}) after an undisturbed run`);
  assert.equal(present(join(home, 'ship.lock')), false);
  assertClean(home, 'ship');
  await verifyAfter(home);
}

/** Every identity a killed rotation may have left a store encrypted to: key.txt, the journal, the backups. */
function keptIdentities(home: string): string[] {
  const files = readdirSync(home).filter((n) => n === 'key.txt' || n === 'key.rotating' || /^key\.txt\..*\.bak$/.test(n));
  return files.map((n) => readFileSync(join(home, n), 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!.trim());
}

function readWithAny(home: string, app: string, env: string, ids: string[]): Map2 | undefined {
  for (const id of ids) {
    try {
      return readStore(home, app, env, id);
    } catch { /* another key */ }
  }
  throw new Error(`${app}/${env} opens with none of the ${ids.length} kept keys (seed ${SEED})`);
}

/**
 * `lsm key rotate` killed at random, between and inside the store rewrites and around the
 * switch of key.txt, with a set now and then while a killed rotation's journal is there:
 * every store must open with a kept key and hold its content; a completed run leaves every
 * store open to key.txt alone and no journal; each key.txt ever seen was announced by
 * exactly one key.rotate event, and no rotation is recorded twice.
 */
async function rotateLoop(t: { diagnostic(s: string): void }): Promise<void> {
  const home = await homeWithStore(120);
  const stores: Array<[string, string]> = [['app', 'dev'], ['app', 'prod'], ['web', 'dev'], ['web', 'stage'], ['api', 'dev'], ['api', 'prod'], ['db', 'dev'], ['db', 'prod']];
  for (const [a, e] of stores.slice(1)) {
    const text = Array.from({ length: 60 }, (_, k) => `${a.toUpperCase()}_${e.toUpperCase()}_${k}=${'x'.repeat(30)}${k}`).join('\n');
    await ok(['import', a, e, '-'], { home, input: `${text}\n` });
  }
  const expect = new Map<string, Map2>();
  const snapshot = () => {
    for (const [a, e] of stores) expect.set(`${a}/${e}`, readStore(home, a, e)!);
  };
  snapshot();
  const seenKeys = new Set<string>([identityLine(home)]);
  const tl = { ...tally(), resumed: 0, journalLeft: 0 };
  const anchor = new Anchor(home, /\.age\.lock$/);
  try {
    const timing = await calibrate(anchor, () => ({ args: ['key', 'rotate'], opts: { home } }));
    for (const id of keptIdentities(home)) seenKeys.add(id);
    for (let i = 0; i < count('rotate'); i++) {
      const r = await killed(anchor, ['key', 'rotate'], { home }, timing);
      tl.iterations++;
      if (r.signal === 'SIGKILL') tl.killed++;
      else {
        assert.equal(r.code, 0, `rotate #${i} was not killed and failed: ${r.stderr}`);
        if (/interrupted/.test(r.stdout)) tl.resumed++;
        assert.equal(existsSync(join(home, 'key.rotating')), false, `rotate #${i}: a completed run left its journal`);
      }
      if (existsSync(join(home, 'key.rotating'))) tl.journalLeft++;
      seenKeys.add(identityLine(home));
      const ids = keptIdentities(home);
      for (const [a, e] of stores) {
        assert.ok(same(readWithAny(home, a, e, ids), expect.get(`${a}/${e}`)), `rotate #${i} (seed ${SEED}): ${a}/${e} lost its content`);
        if (r.signal !== 'SIGKILL') {
          assert.ok(readStore(home, a, e), `${a}/${e} opens with key.txt after a completed rotation`);
          // The point of a rotation: no earlier key opens a store once it is done.
          for (const old of ids.filter((k) => k !== identityLine(home))) assert.throws(() => readStore(home, a, e, old), `${a}/${e} still opens with an earlier key after a completed rotation (seed ${SEED})`);
        }
      }
      // A writer while a killed rotation's journal is there: its store must stay open to a kept key.
      if (i % 3 === 2) {
        await ok(['set', 'web', 'dev', 'DURING', `v${i}`], { home });
        snapshot();
      }
    }
    const last = await run(['key', 'rotate'], { home });
    assert.equal(last.code, 0, last.stderr);
    seenKeys.add(identityLine(home));
    assert.equal(existsSync(join(home, 'key.rotating')), false);
    for (const [a, e] of stores) assert.ok(same(readStore(home, a, e), expect.get(`${a}/${e}`)), `${a}/${e} after the last rotation, with key.txt`);
    const events = rows(home).filter((x) => x.event === 'key.rotate');
    const ids = events.map((x) => x.fields.rotation);
    assert.equal(new Set(ids).size, ids.length, 'no rotation is recorded twice');
    const announced = new Set(events.map((x) => x.fields.recipient));
    const { identityToRecipient } = await import('../src/age/age.js');
    const initial = identityToRecipient([...seenKeys][0]);
    for (const k of seenKeys) {
      const rcp = identityToRecipient(k);
      if (rcp !== initial) assert.ok(announced.has(rcp), `key.txt held ${rcp}, which no key.rotate event announced (seed ${SEED})`);
    }
    tl.changed = seenKeys.size - 1;
    t.diagnostic(`rotate: ${JSON.stringify(tl)} (${fmtTiming(timing)}, ${events.length} events)`);
  } finally {
    anchor.close();
  }
  assertClean(home, 'rotate');
  await verifyAfter(home);
}

function identityLine(home: string): string {
  return readFileSync(join(home, 'key.txt'), 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!.trim();
}
