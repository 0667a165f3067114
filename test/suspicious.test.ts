// Judged in New York time, as a user there would see it; set before any Date is used.
process.env.TZ = 'America/New_York';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BurstJudge, NewActorJudge, WallClock, actorOf, agentOf, outsideHours, parseHours, whoClass, type Reason,
} from '../src/audit/detectors.js';
import { IncidentGrouper, SuspiciousPass, type Incident, type SuspiciousSettings } from '../src/audit/suspicious.js';
import { readRows, SkipReporter } from '../src/audit/reader.js';
import { verifyLog } from '../src/audit/verify.js';
import type { AuditRow } from '../src/audit/event.js';
import { LsmError } from '../src/errors.js';
import {
  SCENARIOS, WEEK, agentBurstAt3am, at, benignHumanMonth, benignHumanWeek, buildLines, cronNoTty, dstNight, newProcessEnumerates, who, writeLog,
  type Scenario, type Spec,
} from './fixtures/logs/corpus.js';
import { initHome, lsm, tempDir } from './helpers.js';

const MIN = 60_000;
const DAY = 86_400_000;
/** An agent's exec with masked output: no plaintext, so only the detector under test speaks. */
const masked = { event: 'exec', fields: { keys: ['API_KEY'], program: 'npm', mask: true } };

function settings(over: Partial<SuspiciousSettings> = {}): SuspiciousSettings {
  return { hours: parseHours('07:00-23:00'), utc: false, burstThreshold: 50, burstWindowMs: MIN, lookbackMs: 30 * DAY, ...over };
}

function logOf(specs: Spec[]): string {
  return writeLog(join(tempDir('lsm-susp-'), 'audit.jsonl'), specs);
}

/** Runs the pass over a written log through the real reader: seq -> reasons, plus incidents. */
function judge(specs: Spec[], s: SuspiciousSettings, keepRows = false) {
  const flagged = new Map<number, Reason[]>();
  const incidents: Incident[] = [];
  const pass = new SuspiciousPass(s);
  const grouper = new IncidentGrouper(keepRows, (i) => incidents.push(i));
  const path = logOf(specs);
  for (const p of readRows(path, new SkipReporter(path, process.stderr))) {
    const f = pass.feed(p.row, p.raw);
    if (f) {
      flagged.set(f.row.seq, f.reasons);
      grouper.add(f);
    }
  }
  grouper.finish();
  return { flagged, incidents, pass, path };
}

function expected(specs: Spec[]): Map<number, Reason[]> {
  const m = new Map<number, Reason[]>();
  specs.forEach((s, i) => s.expect && m.set(i + 1, s.expect));
  return m;
}

// ---------------------------------------------------------------- the corpus

for (const make of SCENARIOS) {
  const sc: Scenario = make();
  test(`corpus: ${sc.name} flags exactly the expected rows and reasons`, () => {
    const { flagged, path } = judge(sc.specs, settings({ since: sc.since }));
    assert.deepEqual([...flagged.entries()], [...expected(sc.specs).entries()]);
    assert.equal(verifyLog(path).problems.length, 0, 'corpus rows are a valid chain');
  });
}

test('corpus: the benign logs flag nothing at all', () => {
  for (const sc of [benignHumanWeek(), SCENARIOS[1](), benignHumanMonth()]) {
    assert.equal(judge(sc.specs, settings({ since: sc.since })).flagged.size, 0, sc.name);
  }
});

test('incidents: the 3 a.m. burst is one incident of 80 events', () => {
  const sc = agentBurstAt3am();
  const { incidents } = judge(sc.specs, settings({ since: sc.since }), true);
  assert.equal(incidents.length, 1);
  const [i] = incidents;
  assert.equal(i.actor, 'claude s-1', 'the agent and its session');
  assert.equal(i.high, true, 'prod plaintext to an agent');
  assert.equal(i.count, 80);
  assert.deepEqual(i.reasons, ['agent_plaintext', 'outside_hours', 'burst']);
  assert.deepEqual(i.places, ['web/prod']);
  assert.equal(i.firstMs, at('2026-02-25T03:00:00-05:00'));
  assert.equal(i.lastMs, at('2026-02-25T03:00:00-05:00') + 79 * 500);
  assert.equal(i.rows?.length, 80);
});

test('incidents: a nightly cron job is one incident per night; another actor splits', () => {
  const cron = judge(cronNoTty().specs, settings({ since: WEEK })).incidents;
  assert.deepEqual(cron.map((i) => [i.actor, i.count, i.reasons.join(',')]), [
    ['cron', 3, 'agent_plaintext,outside_hours,non_interactive_no_agent'],
    ['cron', 3, 'agent_plaintext,outside_hours,non_interactive_no_agent'],
    ['cron', 3, 'agent_plaintext,outside_hours,non_interactive_no_agent'],
    ['cron', 1, 'agent_plaintext,non_interactive_no_agent'],
  ]);
  const enumerate = judge(newProcessEnumerates().specs, settings({ since: WEEK })).incidents;
  assert.deepEqual(enumerate.map((i) => [i.actor, i.count, i.reasons.join(','), i.rows]), [
    ['python3', 13, 'agent_plaintext,new_parent_comm,non_interactive_no_agent', undefined],
  ]);
});

// ---------------------------------------------------------------- hours, time zones, DST

test('hours: parsing, and windows that wrap midnight', () => {
  const day = parseHours('07:00-23:00');
  assert.deepEqual([day.start, day.end], [420, 1380]);
  assert.equal(outsideHours(419, day), true);
  assert.equal(outsideHours(420, day), false);
  assert.equal(outsideHours(1379, day), false);
  assert.equal(outsideHours(1380, day), true);
  const night = parseHours('22:00-06:00');
  for (const [m, out] of [[21 * 60 + 59, true], [22 * 60, false], [0, false], [5 * 60 + 59, false], [6 * 60, true], [12 * 60, true]] as const) {
    assert.equal(outsideHours(m, night), out, String(m));
  }
  assert.equal(outsideHours(0, parseHours('00:00-24:00')), false);
  assert.equal(outsideHours(1439, parseHours('00:00-24:00')), false);
  assert.deepEqual([parseHours('7-23').start, parseHours('08:30-17:45').end], [420, 17 * 60 + 45]);
  for (const bad of ['', '7', '07:00', '25:00-07:00', '07:60-08:00', '24:00-07:00', '24:30', '07:00-07:00', 'nine-five']) {
    assert.throws(() => parseHours(bad), (e: unknown) => e instanceof LsmError && e.exit === 2, bad);
  }
});

test('DST: a night across the spring change is judged on the wall clock of New York', () => {
  const sc = dstNight('spring');
  // The hand-made wall clock jumps from 01:30 to 03:00.
  assert.deepEqual(sc.local.slice(8, 12), ['01:00', '01:30', '03:00', '03:30']);
  const { flagged } = judge(sc.specs, settings({ since: sc.since }));
  assert.deepEqual([...flagged.entries()], [...expected(sc.specs).entries()]);
  // 07:00 EDT is 11:00Z; a fixed EST offset would call it 06:00 and flag it.
  const seven = sc.specs.findIndex((s) => s.at === at('2026-03-08T11:00:00Z')) + 1;
  assert.equal(flagged.has(seven), false);
  assert.equal(flagged.has(seven - 1), true);
});

test('DST: the fall change (01:30 twice) and a night shift that wraps midnight', () => {
  for (const kind of ['spring', 'fall'] as const) {
    const sc = dstNight(kind);
    if (kind === 'fall') assert.equal(sc.local.filter((l) => l === '01:30').length, 2);
    const { flagged } = judge(sc.specs, settings({ since: sc.since, hours: parseHours('22:00-06:00') }));
    const first = sc.specs.length - sc.local.length + 1;
    const want = sc.local.map((l, i) => [first + i, l] as const).filter(([, l]) => !(l >= '22:00' || l < '06:00'));
    assert.deepEqual([...flagged.keys()], want.map(([seq]) => seq), kind);
    for (const r of flagged.values()) assert.deepEqual(r, ['outside_hours']);
  }
});

test('--utc judges hours in UTC whatever the zone', () => {
  const sc = dstNight('spring');
  const { flagged } = judge(sc.specs, settings({ since: sc.since, utc: true }));
  const want = sc.specs.map((s, i) => [i + 1, new Date(s.at).getUTCHours()] as const)
    .filter(([, h]) => h < 7 || h >= 23).filter(([seq]) => sc.specs[seq - 1].at >= sc.since).map(([seq]) => seq);
  assert.deepEqual([...flagged.keys()], want);
});

test('wall clock: quarter-hour offset cache agrees with Date at every minute of a DST day', () => {
  const c = new WallClock(false);
  for (let t = at('2026-03-08T00:00:00Z'); t < at('2026-03-09T00:00:00Z'); t += 7 * 1000 + 333) {
    const d = new Date(t);
    assert.equal(c.minuteOfDay(t), d.getHours() * 60 + d.getMinutes(), d.toISOString());
    assert.equal(c.weekday(t), (d.getDay() + 6) % 7);
  }
});

// ---------------------------------------------------------------- burst

test('burst: more than N within the window, half-open, per actor', () => {
  const b = new BurstJudge(3, 10_000);
  assert.deepEqual([0, 1000, 2000, 3000].map((t) => b.feed('a', t)), [false, false, false, true]);
  // Another actor has its own window.
  assert.deepEqual([0, 1, 2].map((t) => b.feed('b', t)), [false, false, false]);
  const edge = new BurstJudge(3, 10_000);
  // Four events spanning exactly the window do not fit in it.
  assert.deepEqual([0, 1, 2, 10_000].map((t) => edge.feed('a', t)), [false, false, false, false]);
});

test('burst: out-of-order stamps are compared by time; a clock step back re-arms after N rows', () => {
  const skew = new BurstJudge(3, 10_000);
  assert.deepEqual([5000, 4000, 6000, 3000].map((t) => skew.feed('a', t)), [false, false, false, true]);
  const step = new BurstJudge(3, 10_000);
  const before = [100_000, 100_100, 100_200, 100_300].map((t) => step.feed('a', t));
  const after = [1000, 1100, 1200, 1300, 1400].map((t) => step.feed('a', t));
  assert.deepEqual(before, [false, false, false, true]);
  assert.deepEqual(after, [false, false, false, true, true]);
  // A lone far-off stamp does not make or break a burst of its neighbours.
  const lone = new BurstJudge(3, 10_000);
  assert.deepEqual([0, 1, 999_999_999, 2, 3].map((t) => lone.feed('a', t)), [false, false, false, false, false]);
});

test('burst: the actor is the agent behind the shell, not the shell', () => {
  const base = { ...who.claude() };
  const deeper = { ...base, ancestry: [{ pid: 1, comm: 'zsh', start: '' }, { pid: 2, comm: 'bash', start: '' }, { pid: 3, comm: 'claude', start: '' }] };
  const start = at('2026-02-24T12:00:00-05:00');
  const specs: Spec[] = [{ at: start - 5 * DAY, who: base, ...masked }];
  for (let i = 0; i < 60; i++) specs.push({ at: start + i * 100, who: i % 2 ? base : deeper, ...masked });
  const { flagged } = judge(specs, settings({ since: start }));
  assert.deepEqual([...flagged.keys()], Array.from({ length: 10 }, (_, i) => 52 + i));
});

test('burst: one agent spreading reads over differently named helpers is still a burst (per agent marker)', () => {
  const start = at('2026-02-24T12:00:00-05:00');
  // Each read goes through one of five intermediates (p1..p5): five actors of 12 reads each.
  const via = (i: number) => ({ ...who.claude(), ancestry: [{ pid: 1, comm: `p${i % 5}`, start: '' }, { pid: 2, comm: 'sh', start: '' }, { pid: 3, comm: 'claude', start: '' }] });
  const specs: Spec[] = [];
  for (let i = 0; i < 60; i++) specs.push({ at: start + i * 100, who: via(i), ...masked });
  const { flagged } = judge(specs, settings({ since: start }));
  const bursts = [...flagged].filter(([, r]) => r.includes('burst')).map(([seq]) => seq);
  assert.deepEqual(bursts, Array.from({ length: 10 }, (_, i) => 51 + i));
  // Across sessions too: a key per session would hold one ring per agent run, for the whole log.
  const two: Spec[] = [];
  for (let i = 0; i < 60; i++) two.push({ at: start + i * 100, who: { ...via(i), agent_session: `s-${i}` }, ...masked });
  assert.equal([...judge(two, settings({ since: start })).flagged].filter(([, r]) => r.includes('burst')).length, 10);
});

test('burst: rows before --since are history for the window; only later rows are reported', () => {
  const start = at('2026-02-24T12:00:00-05:00');
  const specs: Spec[] = [{ at: start - 5 * DAY, who: who.claude(), ...masked }];
  for (let i = 0; i < 60; i++) specs.push({ at: start - 15_000 + i * 500, who: who.claude(), ...masked });
  const { flagged } = judge(specs, settings({ since: start }));
  // Rows 51..60 of the burst (seq 52..61) complete it; all are after --since.
  assert.deepEqual([...flagged.keys()], Array.from({ length: 10 }, (_, i) => 52 + i));
  const until = judge(specs, settings({ since: start, until: start + 2000 })).flagged;
  assert.deepEqual([...until.keys()], []);
});

// ---------------------------------------------------------------- new_parent_comm

test('new_parent_comm: per-row lookback, late rows, empty names; nothing is new without a lookback of history', () => {
  const n = new NewActorJudge(30 * DAY);
  const t = at('2026-01-01T12:00:00Z');
  assert.equal(n.feed('claude', t), false, "the log's first row: nothing came before it");
  assert.equal(n.feed('codex', t + 29 * DAY), false, 'less than the lookback of history');
  assert.equal(n.feed('aider', t + 30 * DAY), true, 'a full lookback of history, never seen');
  assert.equal(n.feed('claude', t + 29 * DAY), false);
  assert.equal(n.feed('claude', t + 60 * DAY), true, 'unseen for 31 days: new again');
  assert.equal(n.feed('claude', t + 10 * DAY), false, 'a late-stamped row of a known actor');
  assert.equal(n.feed('', t), false);
  assert.equal(n.feed('', t + 90 * DAY), false);
});

test('new_parent_comm: a log younger than the lookback flags no row as new, and says so', () => {
  const start = at('2026-02-24T12:00:00-05:00');
  const specs: Spec[] = [
    { at: start, who: who.human() },
    { at: start + MIN, who: who.human() },
    { at: start + DAY, who: who.claude() },
  ];
  const { flagged, pass } = judge(specs, settings());
  assert.deepEqual([...flagged.entries()], [[3, ['agent_plaintext']]], 'the agent got plaintext; nobody is new');
  assert.equal(pass.young, true);
  const history = [-40, -20].map((d) => ({ at: start + d * DAY, who: who.human() }));
  const old = judge([...history, ...specs], settings({ since: start }));
  assert.equal(old.pass.young, false);
  assert.deepEqual([...old.flagged.keys()], [5]);
});

// ---------------------------------------------------------------- who

test('actor and agent identity', () => {
  const row = (actor: AuditRow['actor'], schema = 2): AuditRow => ({ schema_version: schema, seq: 1, ts: '', event: 'get', actor, prev: '', hash: '' });
  assert.equal(actorOf(row(who.human())), 'tmux: server');
  assert.equal(actorOf(row(who.claude())), 'claude');
  assert.equal(actorOf(row({ ...who.human(), ancestry: [{ pid: 1, comm: '-zsh', start: '' }, { pid: 2, comm: '/usr/bin/bash', start: '' }] })), 'bash');
  assert.equal(actorOf(row(who.v1('/bin/zsh', '/dev/ttys001'), 1)), 'zsh');
  assert.equal(actorOf(row({ ...who.v1('', ''), ancestry: [] })), '');
  assert.equal(agentOf(row(who.zed())), '');
  assert.equal(agentOf(row(who.kiro())), '');
  assert.equal(agentOf(row(who.aiderPty())), 'aider');
  assert.equal(agentOf(row({ ...who.aiderPty(), agent_marker: '', agent_source: undefined })), 'aider', 'recognised from the ancestry alone');
  assert.equal(agentOf(row(who.v1('node', '', 'cursor'), 1)), '');
  assert.equal(agentOf(row(who.v1('aider', '/dev/pts/1'), 1)), 'aider');
  assert.deepEqual(
    [who.human(), who.claude(), who.cron(), who.zed(), who.aiderPty(), who.v1('zsh', '/dev/null')].map((a) => whoClass(row(a, a.ancestry ? 2 : 1))),
    ['human', 'agent:claude', 'unattended', 'unattended', 'agent:aider', 'unattended'],
  );
});

// ---------------------------------------------------------------- the command

const built = existsSync('dist/lsm.cjs');
const e2e = { skip: built ? false : 'dist/lsm.cjs not built (npm test builds it)' };

function homeWith(specs: Spec[]): string {
  const home = initHome();
  writeFileSync(join(home, 'audit.jsonl'), buildLines(specs).map((l) => `${l}\n`).join(''), { mode: 0o600 });
  return home;
}

const NY = { TZ: 'America/New_York' };

test('cli: text groups the 3 a.m. burst into one incident line; --verbose lists its rows', e2e, () => {
  const sc = agentBurstAt3am();
  const home = homeWith(sc.specs);
  const r = lsm(['audit', 'suspicious', '--since', '2026-02-23', '--format', 'text'], { home, env: NY });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2, r.stdout);
  assert.equal(lines[0], '2026-02-25 03:00:00 – 03:00:39  claude s-1    80 events   [agent_plaintext,outside_hours,burst]  HIGH web/prod');
  assert.match(lines[1], /^80 flagged events in 1 incident \(seq 4-83\); hours 07:00-23:00 America\/New_York, burst > 50 in 1m, lookback 30d$/);
  assert.equal(r.stderr, '');
  const v = lsm(['audit', 'suspicious', '--since', '2026-02-23', '--format', 'text', '--verbose'], { home, env: NY });
  const rows = v.stdout.split('\n').filter((l) => l.startsWith('    ['));
  assert.equal(rows.length, 80);
  assert.match(rows[0], /^ {4}\[agent_plaintext,outside_hours\] 2026-02-25 03:00:00 +4 +get /);
  assert.match(rows[79], /^ {4}\[agent_plaintext,outside_hours,burst\] 2026-02-25 03:00:39 +83 +get /);
  const utc = lsm(['audit', 'suspicious', '--since', '2026-02-23', '--format', 'text', '-v', '--utc'], { home, env: NY });
  assert.match(utc.stdout, /^2026-02-25 08:00:00 – 08:00:39 +claude s-1 +80 events +\[agent_plaintext,burst\]  HIGH web\/prod\n {4}\[agent_plaintext\] 2026-02-25 08:00:00 +4 /);
});

test('cli: json is one object per flagged row with the stored line; nothing when nothing is flagged', e2e, () => {
  const sc = cronNoTty();
  const home = homeWith(sc.specs);
  const stored = readFileSync(join(home, 'audit.jsonl'), 'utf8').split('\n');
  const r = lsm(['audit', 'suspicious', '--since', '2026-02-23'], { home, env: NY });
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trimEnd().split('\n');
  assert.equal(out.length, 10);
  for (const line of out) {
    const o = JSON.parse(line);
    assert.deepEqual(Object.keys(o).filter((k) => k !== 'high'), ['reasons', 'actor', 'caller', 'event']);
    assert.ok(line.endsWith(`"event":${stored[o.event.seq - 1]}}`), 'the stored line, byte for byte');
    assert.deepEqual(o.reasons, sc.specs[o.event.seq - 1].expect);
  }
  const benign = homeWith(benignHumanWeek().specs);
  const quiet = lsm(['audit', 'suspicious', '--since', '2026-02-23', '--format', 'json'], { home: benign, env: NY });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stdout, '');
  const text = lsm(['audit', 'suspicious', '--since', '2026-02-23', '--format', 'text'], { home: benign, env: NY });
  assert.equal(text.stdout, 'no suspicious events found\n');
});

test('cli: --fail-on-match exits 3 only when something is flagged', e2e, () => {
  const bad = homeWith(cronNoTty().specs);
  assert.equal(lsm(['audit', 'suspicious', '--since', '2026-02-23', '--fail-on-match'], { home: bad, env: NY }).code, 3);
  assert.equal(lsm(['audit', 'suspicious', '--since', '2026-02-23'], { home: bad, env: NY }).code, 0);
  const good = homeWith(benignHumanWeek().specs);
  assert.equal(lsm(['audit', 'suspicious', '--since', '2026-02-23', '--fail-on-match'], { home: good, env: NY }).code, 0);
});

test('cli: one local-only audit.suspicious.flagged event per run that flags, never judged itself', e2e, () => {
  const sc = newProcessEnumerates();
  const home = homeWith(sc.specs);
  const before = sc.specs.length;
  const events = () => readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const first = lsm(['audit', 'suspicious', '--since', '2026-02-23', '--format', 'json'], { home, env: NY });
  assert.equal(first.stdout.trimEnd().split('\n').length, 13);
  const after = events();
  assert.equal(after.length, before + 1);
  const flag = after[before];
  assert.equal(flag.event, 'audit.suspicious.flagged');
  assert.equal(flag.local_only, true);
  assert.deepEqual(flag.fields, { count: 13, seq_from: 4, seq_to: 16 });
  // The next run sees the same 13, not its own bookkeeping (run off a TTY, no marker).
  const second = lsm(['audit', 'suspicious', '--since', '2026-02-23', '--format', 'json'], { home, env: NY });
  assert.equal(second.stdout.trimEnd().split('\n').length, 13);
  assert.deepEqual(events()[before + 1].fields, { count: 13, seq_from: 4, seq_to: 16 });
  const quiet = homeWith(benignHumanWeek().specs);
  const n = readFileSync(join(quiet, 'audit.jsonl'), 'utf8').trim().split('\n').length;
  lsm(['audit', 'suspicious', '--since', '2026-02-23'], { home: quiet, env: NY });
  assert.equal(readFileSync(join(quiet, 'audit.jsonl'), 'utf8').trim().split('\n').length, n, 'nothing flagged, nothing recorded');
});

test('cli: TZ decides outside_hours; --hours wraps midnight; the DST night end to end', e2e, () => {
  const sc = dstNight('spring');
  const home = homeWith(sc.specs);
  const seqs = (r: { stdout: string }) => r.stdout.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l).event.seq);
  const ny = lsm(['audit', 'suspicious', '--since', '2026-03-08T02:00:00Z', '--format', 'json'], { home, env: NY });
  assert.deepEqual(seqs(ny), [...expected(sc.specs).keys()]);
  const first = sc.specs.length - sc.local.length + 1;
  const shift = lsm(['audit', 'suspicious', '--since', '2026-03-08T02:00:00Z', '--hours', '22:00-06:00', '--format', 'json'], { home, env: NY });
  assert.deepEqual(seqs(shift), sc.local.map((l, i) => [first + i, l] as const).filter(([, l]) => !(l >= '22:00' || l < '06:00')).map(([s]) => s));
  // The same log read in Tokyo (UTC+9, no DST): 02:00Z..12:00Z is 11:00..21:00, all inside.
  const tokyo = lsm(['audit', 'suspicious', '--since', '2026-03-08T02:00:00Z', '--format', 'json'], { home, env: { TZ: 'Asia/Tokyo' } });
  assert.deepEqual(seqs(tokyo), []);
});

test('cli: config.yaml thresholds, flags over config, bad values, young-log note', e2e, () => {
  const sc = agentBurstAt3am();
  const home = homeWith(sc.specs);
  writeFileSync(join(home, 'config.yaml'), 'env: dev\nsuspicious:\n  hours: "00:00-24:00"\n  burst_threshold: 70\n');
  const count = (args: string[]) => {
    const r = lsm(['audit', 'suspicious', '--since', '2026-02-23', '--format', 'json', ...args], { home, env: NY });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trimEnd().split('\n').filter(Boolean).filter((l) => JSON.parse(l).reasons.includes('burst')).length;
  };
  assert.equal(count([]), 10, 'threshold 70 from config: rows 71..80');
  assert.equal(count(['--burst-threshold', '50']), 30, 'the flag wins');
  assert.equal(count(['--burst-window', '10s']), 0);
  for (const [flag, value] of [['--hours', '7-7'], ['--burst-threshold', '0'], ['--burst-window', 'soon'], ['--lookback', '0s']]) {
    const r = lsm(['audit', 'suspicious', flag, value], { home });
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, /^lsm: /);
  }
  writeFileSync(join(home, 'config.yaml'), 'suspicious:\n  burst_window: often\n');
  const cfg = lsm(['audit', 'suspicious'], { home });
  assert.equal(cfg.code, 1);
  assert.match(cfg.stderr, /^lsm: .*config\.yaml: suspicious\.burst_window: cannot read the duration "often"/);
  const young = homeWith([{ at: at('2026-02-24T12:00:00-05:00'), who: who.human() }]);
  const r = lsm(['audit', 'suspicious', '--format', 'text'], { home: young, env: NY });
  assert.equal(r.stdout, 'no suspicious events found\n', 'the first event of a log is not new');
  assert.equal(r.stderr, 'lsm: note: the audit log spans less than the 30d lookback (it starts 2026-02-24 12:00:00): new_parent_comm needs that much history before a row, so it judged nothing\n');
});

test('cli: --file reads another log and the flag names it', e2e, () => {
  const home = initHome();
  const file = writeLog(join(tempDir(), 'other.jsonl'), cronNoTty().specs);
  const r = lsm(['audit', 'suspicious', '--file', file, '--since', '2026-02-23', '--format', 'json'], { home, env: NY });
  assert.equal(r.code, 0, r.stderr);
  const last = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).pop();
  assert.deepEqual(last.fields, { count: 10, seq_from: 4, seq_to: 13, file: 'other.jsonl' });
});
