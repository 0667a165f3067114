// 16 lsm processes at once, each running a mixed sequence of set, import, get, exec,
// delete and list against one shared store and one store of its own, in a sealed home
// that ships to a collector. A lost update shows as a missing or stale key; a lost or
// doubled event as a seq gap, a duplicate or a count that is off; a broken append as a
// chain or seal that no longer verifies; a shipper race as a seq the collector never got.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initHome, tempDir } from './helpers.js';
import { Receiver } from './fixtures/otlp/receiver.js';
import { enableShipping, shippableSeqs, shipperGone } from './fixtures/otlp/ship-env.js';
import { debris, ok, readStore, rows, run, sealHome, spawnLsm, sealsAvailable, seqProblems, verify, verifyFailures, whereIs, type Run } from './fixtures/reliability.js';

const WORKERS = 16;
const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.stop().catch(() => {});
});

const value = (w: number, what: string) => `v-${what}-${w}-${'x'.repeat(w * 3)}`;

/** One worker: a fixed sequence of commands, each checked as it returns. Returns how many events it caused. */
async function worker(w: number, home: string, scratch: string): Promise<number> {
  let events = 0;
  const step = async (args: string[], input?: string): Promise<Run> => {
    const r = await run(args, { home, input });
    events++;
    // A lock held past the timeout is a bug to find: say what its holder is doing.
    const holder = /held by pid (\d+)/.exec(r.stderr)?.[1];
    assert.equal(r.code, 0, `worker ${w}: lsm ${args.join(' ')}: ${r.stderr}${holder ? `[holder: ${whereIs(Number(holder))}]` : ''}`);
    return r;
  };
  const own = `w${w}`;
  await step(['set', 'shared', 'dev', `K${w}_A`, value(w, 'a')]);
  await step(['set', 'shared', 'dev', `K${w}_B`, '-'], value(w, 'b'));
  await step(['set', own, 'dev', 'OWN', value(w, 'own')]);
  const file = join(scratch, `w${w}.env`);
  writeFileSync(file, `# worker ${w}\nIMP${w}_1=${value(w, 'i1')}\nIMP${w}_2="${value(w, 'i2')} with spaces"\n`);
  await step(['import', 'shared', 'dev', file]);
  await step(['import', own, 'dev', file]);
  const got = await step(['get', 'shared', 'dev', `K${w}_A`]);
  assert.equal(got.stdout, value(w, 'a'), `worker ${w} read back its own write`);
  const ex = await step(['exec', 'shared', 'dev', '--no-mask', '--', 'sh', '-c', `printf %s "$K${w}_B"`]);
  assert.equal(ex.stdout, value(w, 'b'), `worker ${w}: exec saw its own write`);
  await step(['delete', 'shared', 'dev', `K${w}_B`]);
  const list = await step(['list', own, 'dev']);
  assert.deepEqual(list.stdout.trim().split('\n'), ['OWN', `IMP${w}_1`, `IMP${w}_2`]);
  await step(['set', own, 'dev', 'OWN', value(w, 'own2')]);
  return events;
}

test(`${WORKERS} processes: set, import, get, exec, delete and list on shared and own stores lose nothing`, { timeout: 180_000 }, async (t) => {
  const home = initHome();
  const scratch = tempDir('lsm-conc-');
  const sealed = sealsAvailable();
  const vk = sealed ? await sealHome(home) : undefined;
  if (!sealed) t.diagnostic('this build has no audit seal command: seals not checked');
  const receiver = await Receiver.start();
  receivers.push(receiver);
  enableShipping(home, { enabled: true, endpoint: receiver.url, batch_size: 7, timeout: '2s' });
  const before = rows(home).length;

  const t0 = Date.now();
  const counts = await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w, home, scratch)));
  const events = counts.reduce((a, b) => a + b, 0);
  t.diagnostic(`${events} commands by ${WORKERS} concurrent processes in ${Date.now() - t0} ms`);

  // No lost update: every key each worker set is there with its value, every delete held.
  const shared = readStore(home, 'shared', 'dev')!;
  const expected = new Map<string, string>();
  for (let w = 0; w < WORKERS; w++) {
    expected.set(`K${w}_A`, value(w, 'a'));
    expected.set(`IMP${w}_1`, value(w, 'i1'));
    expected.set(`IMP${w}_2`, `${value(w, 'i2')} with spaces`);
  }
  assert.deepEqual(new Map([...shared].sort()), new Map([...expected].sort()));
  for (let w = 0; w < WORKERS; w++) {
    assert.deepEqual(readStore(home, `w${w}`, 'dev'), new Map([['OWN', value(w, 'own2')], [`IMP${w}_1`, value(w, 'i1')], [`IMP${w}_2`, `${value(w, 'i2')} with spaces`]]));
  }

  // Every shipper this run started has finished before the log is judged.
  assert.ok(await shipperGone(home, 30_000), 'background shippers finished');
  const final = await run(['audit', 'ship'], { home });
  assert.equal(final.code, 0, final.stderr);

  // One event per command, seqs 1..n, the chain (and the seals) verify.
  const log = rows(home);
  assert.deepEqual(seqProblems(log), []);
  // config.changed records the config written before the run (shipping, sealing), not a command.
  const commandRows = log.slice(before).filter((r) => !r.event.startsWith('audit.') && r.event !== 'config.changed');
  assert.equal(commandRows.length, events, 'one event per command, none lost or doubled');
  for (let w = 0; w < WORKERS; w++) {
    const mine = commandRows.filter((r) => r.app === `w${w}` || JSON.stringify(r.fields ?? {}).includes(`K${w}_`) || JSON.stringify(r.fields ?? {}).includes(`IMP${w}_`));
    assert.ok(mine.length >= 9, `worker ${w}'s events are in the log (${mine.length})`);
  }
  const v = await verify(home, vk);
  assert.deepEqual(verifyFailures(v), []);
  assert.equal(v.json.events, log.length);
  if (vk) {
    assert.equal(v.json.verdicts?.seals.status, 'ok', JSON.stringify(v.json.verdicts?.seals));
    assert.equal(v.json.verdicts?.completeness.status, 'ok', JSON.stringify(v.json.verdicts?.completeness));
  }

  // The collector has every shippable event, and nothing it could not parse.
  assert.deepEqual(receiver.validationErrors(), []);
  assert.deepEqual(receiver.deliveredSeqs(), shippableSeqs(home));
  assert.deepEqual(debris(home), [], 'no temp or lock file left behind');
});

test(`${WORKERS} processes racing on one key: the last writer wins whole, the log orders them`, { timeout: 120_000 }, async () => {
  const home = initHome();
  // Values long enough that a torn or interleaved write could not pass for a whole one.
  const val = (w: number) => `${String(w).padStart(2, '0')}:${'abcdefghij'.repeat(200)}:${w}`;
  const procs = Array.from({ length: WORKERS }, (_, w) => spawnLsm(['set', 'race', 'dev', 'SAME', val(w)], { home }));
  const results = await Promise.all(procs.map((p) => p.done));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const store = readStore(home, 'race', 'dev')!;
  const winner = store.get('SAME')!;
  const w = Array.from({ length: WORKERS }, (_, i) => val(i)).indexOf(winner);
  assert.ok(w >= 0, 'the value is one writer\'s, whole');
  // Events are recorded under the store's lock just before its save, so the log orders
  // the writers as the store saw them: the last set event is the winner's.
  const sets = rows(home).filter((r) => r.event === 'set' && r.app === 'race');
  assert.equal(sets.length, WORKERS);
  assert.equal(sets.at(-1).actor.pid, procs[w].child.pid, 'the last recorded writer is the one whose value stayed');
  assert.deepEqual(new Set(sets.map((r) => r.fields.action)), new Set(['added', 'changed']));
  assert.equal(sets.filter((r) => r.fields.action === 'added').length, 1, 'exactly one writer found the key missing');
  const got = await ok(['get', 'race', 'dev', 'SAME'], { home });
  assert.equal(got.stdout, winner);
  assert.deepEqual(verifyFailures(await verify(home)), []);
  assert.deepEqual(seqProblems(rows(home)), []);
});
