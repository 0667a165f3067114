// Heat map cells are local weekday x hour: fix the zone before any Date is used.
process.env.TZ = 'America/New_York';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { StatsPass, keysOf } from '../src/audit/stats.js';
import { level, renderHeatmap } from '../src/term/heatmap.js';
import { readRows, SkipReporter } from '../src/audit/reader.js';
import type { AuditRow } from '../src/audit/event.js';
import { at, buildLines, who, writeLog, type Spec } from './fixtures/logs/corpus.js';
import { initHome, lsm, lsmCommand, tempDir, cleanEnv } from './helpers.js';

const MON = '2026-02-23';
const TUE = '2026-02-24';

/** A small week: a person, an agent, cron, Aider on a PTY, gh push, and a row written late. */
function week(): Spec[] {
  return [
    { at: at(`${MON}T09:10:00-05:00`), who: who.human(), event: 'get', fields: { key: 'API_KEY' } },
    { at: at(`${TUE}T03:00:00-05:00`), who: who.claude(), event: 'get', fields: { key: 'API_KEY' } },
    { at: at(`${TUE}T03:00:05-05:00`), who: who.claude(), event: 'get', fields: { key: 'DB_URL' } },
    { at: at('2026-02-25T02:00:00-05:00'), who: who.cron(), event: 'get', fields: { key: 'API_KEY' } },
    { at: at('2026-02-26T10:00:00-05:00'), who: who.aiderPty(), event: 'exec', fields: { keys: ['DB_URL', 'API_KEY'], program: 'pytest' } },
    { at: at('2026-02-27T12:00:00-05:00'), who: who.human(), event: 'gh_push', fields: { names: ['API_KEY'], count: 1, repo: 'a/b' } },
    { at: at('2026-02-27T12:05:00-05:00'), who: who.human(), event: 'list', fields: { count: 2 } },
    { at: at('2026-02-28T03:00:00-05:00'), who: who.cron(), event: 'audit.suspicious.flagged', fields: { count: 2 } },
    // Written last but stamped first: it must not become the last access.
    { at: at(`${MON}T08:00:00-05:00`), who: who.zed(), event: 'get', fields: { key: 'API_KEY' } },
    // A DST Sunday: 07:30Z is 03:30 EDT, not 02:30.
    { at: at('2026-03-08T07:30:00Z'), who: who.human(), event: 'get', fields: { key: 'REDIS_URL' }, env: 'dev' },
  ];
}

function statsOf(specs: Spec[], w: { since?: number; until?: number; utc?: boolean } = {}) {
  const path = writeLog(join(tempDir('lsm-stats-'), 'audit.jsonl'), specs);
  const pass = new StatsPass({ utc: false, ...w });
  for (const p of readRows(path, new SkipReporter(path, process.stderr))) pass.feed(p.row);
  return pass.result();
}

test('keys named by an event: key, keys, names', () => {
  const row = (fields: Record<string, unknown>) => ({ fields }) as unknown as AuditRow;
  assert.deepEqual(keysOf(row({ key: 'A' })), ['A']);
  assert.deepEqual(keysOf(row({ key: 'A', keys: ['B', 'A'], names: ['C'] })), ['A', 'B', 'C']);
  assert.deepEqual(keysOf(row({ keys: 12, count: 3 })), [], 'exec in the generator counts keys, not names');
  assert.deepEqual(keysOf({} as AuditRow), []);
});

test('per key: revealed, masked, denied and declined apart; a refused or declined request is not the last access', () => {
  const specs: Spec[] = [
    ...week(),
    { at: at('2026-03-09T10:00:00-05:00'), who: who.claude(), event: 'get', outcome: 'denied', fields: { key: 'API_KEY', policy: 'default agent prod*=reason', caller: 'agent' } },
    // The user said no at the overwrite prompt: nothing was written.
    { at: at('2026-03-09T11:00:00-05:00'), who: who.human(), event: 'dump', outcome: 'error', fields: { keys: ['API_KEY'], count: 1, target: '.env', reason: 'not_confirmed' } },
  ];
  const k = statsOf(specs).keys.find((x) => x.key === 'API_KEY' && x.env === 'prod')!;
  assert.deepEqual([k.events, k.revealed, k.masked, k.denied, k.declined], [8, 5, 1, 1, 1]);
  assert.deepEqual([new Date(k.lastMs).toISOString(), k.lastBy], ['2026-02-27T17:00:00.000Z', 'human'], 'the gh push, not the declined dump');
});

test('per key: events, last access by timestamp and by whom', () => {
  const s = statsOf(week());
  assert.equal(s.events, 9, 'audit.* rows are not accesses');
  const view = s.keys.map((k) => [`${k.app}/${k.env}/${k.key}`, k.events, new Date(k.lastMs).toISOString(), k.lastBy, k.by]);
  assert.deepEqual(view, [
    ['web/dev/REDIS_URL', 1, '2026-03-08T07:30:00.000Z', 'human', { human: 1 }],
    ['web/prod/API_KEY', 6, '2026-02-27T17:00:00.000Z', 'human', { human: 2, 'agent:claude': 1, unattended: 2, 'agent:aider': 1 }],
    ['web/prod/DB_URL', 2, '2026-02-26T15:00:00.000Z', 'agent:aider', { 'agent:claude': 1, 'agent:aider': 1 }],
  ]);
});

test('per actor: events, distinct keys, first and last seen', () => {
  const s = statsOf(week());
  const view = s.actors.map((a) => [a.actor, a.events, a.keys, new Date(a.firstMs).toISOString(), new Date(a.lastMs).toISOString()]);
  assert.deepEqual(view, [
    ['tmux: server', 4, 2, '2026-02-23T14:10:00.000Z', '2026-03-08T07:30:00.000Z'],
    ['claude', 2, 2, '2026-02-24T08:00:00.000Z', '2026-02-24T08:00:05.000Z'],
    ['aider', 1, 2, '2026-02-26T15:00:00.000Z', '2026-02-26T15:00:00.000Z'],
    ['cron', 1, 1, '2026-02-25T07:00:00.000Z', '2026-02-25T07:00:00.000Z'],
    ['zed-editor', 1, 1, '2026-02-23T13:00:00.000Z', '2026-02-23T13:00:00.000Z'],
  ]);
});

test('heat map: local weekday x hour, across DST; --utc moves the cells', () => {
  const s = statsOf(week());
  const cells = (heat: number[][]) => heat.flatMap((r, d) => r.map((n, h) => [d, h, n] as const).filter(([, , n]) => n > 0));
  assert.deepEqual(cells(s.heat), [
    [0, 8, 1], [0, 9, 1], // Monday 08:00 (the late row), 09:10
    [1, 3, 2], // Tuesday 03:00
    [2, 2, 1], // Wednesday 02:00
    [3, 10, 1],
    [4, 12, 2],
    [6, 3, 1], // Sunday 03:30 EDT
  ]);
  const utc = statsOf(week(), { utc: true });
  assert.deepEqual(cells(utc.heat).slice(0, 3), [[0, 13, 1], [0, 14, 1], [1, 8, 2]]);
  assert.equal(utc.heat.flat().reduce((a, b) => a + b, 0), 9);
});

test('window: --since inclusive, --until exclusive', () => {
  const s = statsOf(week(), { since: at(`${TUE}T03:00:00-05:00`), until: at('2026-02-26T10:00:00-05:00') });
  assert.equal(s.events, 3);
  assert.deepEqual(s.actors.map((a) => a.actor), ['claude', 'cron']);
});

test('heat map rendering: quarters of the busiest hour, plain unless asked for colour', () => {
  assert.deepEqual([0, 1, 25, 26, 50, 75, 76, 100].map((n) => level(n, 100)), [0, 1, 1, 2, 2, 3, 4, 4]);
  assert.equal(level(1, 1000), 1, 'one event is never invisible');
  const grid = Array.from({ length: 7 }, () => new Array(24).fill(0));
  grid[1][3] = 4;
  grid[1][4] = 1;
  grid[6][23] = 2;
  const plain = renderHeatmap(grid, { colour: false });
  assert.equal(plain.length, 9);
  assert.equal(plain[0], '     00    03    06    09    12    15    18    21');
  assert.equal(plain[2], `Tue  ${' '.repeat(6)}██░░${' '.repeat(38)}  5`);
  assert.equal(plain[7], `Sun  ${' '.repeat(46)}▒▒  2`);
  assert.equal(plain[8], '     ░ ≤25%  ▒ ≤50%  ▓ ≤75%  █ ≤100% of the busiest hour (4 events)');
  assert.ok(!plain.join('\n').includes('\u001b'));
  const colour = renderHeatmap(grid, { colour: true }).join('\n');
  assert.ok(colour.includes('\u001b[31m██\u001b[0m'));
});

// ---------------------------------------------------------------- the command

const e2e = { skip: existsSync('dist/lsm.cjs') ? false : 'dist/lsm.cjs not built (npm test builds it)' };

function homeWith(specs: Spec[]): string {
  const home = initHome();
  writeFileSync(join(home, 'audit.jsonl'), buildLines(specs).map((l) => `${l}\n`).join(''), { mode: 0o600 });
  return home;
}

test('cli: stats json gives the numbers', e2e, () => {
  const home = homeWith(week());
  const r = lsm(['audit', 'stats', '--format', 'json', '--until', '2026-03-01'], { home, env: { TZ: 'America/New_York' } });
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.events, 8);
  assert.equal(o.time_zone, 'America/New_York');
  assert.equal(o.since, null);
  assert.equal(o.until, '2026-03-01T05:00:00Z');
  assert.deepEqual(o.keys[0], {
    app: 'web', env: 'prod', key: 'API_KEY', events: 6, revealed: 5, masked: 1, denied: 0, declined: 0, last_access: '2026-02-27T17:00:00Z', last_by: 'human',
    by: { human: 2, 'agent:claude': 1, unattended: 2, 'agent:aider': 1 },
  });
  assert.deepEqual(o.actors.map((a: any) => [a.actor, a.events, a.keys]), [['tmux: server', 3, 1], ['claude', 2, 2], ['aider', 1, 2], ['cron', 1, 1], ['zed-editor', 1, 1]]);
  assert.deepEqual(o.heatmap.days, ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']);
  assert.equal(o.heatmap.counts[1][3], 2);
  assert.equal(o.heatmap.max, 2);
  // The run is recorded, after it has read the log.
  const last = lsm(['audit', 'tail', '-n', '1', '--all', '--format', 'json'], { home }).stdout;
  assert.match(last, /"event":"audit\.stats".*"fields":\{"actors":5,"events":8,"keys":2\}/);
});

test('cli: stats text is plain when piped: tables and a block heat map', e2e, () => {
  const home = homeWith(week());
  const r = lsm(['audit', 'stats', '--format', 'text'], { home, env: { TZ: 'America/New_York' } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes('\u001b'), 'no escapes off a terminal');
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'Keys (3)');
  assert.match(lines[1], /^ {2}APP\/ENV +KEY +REVEALED +MASKED +DENIED +DECLINED +LAST ACCESS +LAST BY +BY$/);
  assert.match(lines[2], /^ {2}web\/dev +REDIS_URL +1 +0 +0 +0 +2026-03-08 03:30:00 +human +human 1$/);
  assert.ok(lines.includes('When (9 events, hour of day, America/New_York)'));
  const tue = lines.find((l) => l.startsWith('  Tue'));
  assert.equal(tue, `  Tue  ${' '.repeat(6)}██${' '.repeat(40)}  2`);
  assert.ok(lines.some((l) => /^ {2}Sun {8}▒▒ {40} {2}1$/.test(l)), r.stdout);
});

const hasScript = spawnSync('script', ['--version']).status === 0;

test('cli: colour on a terminal, none with NO_COLOR', { skip: e2e.skip || (hasScript ? false : 'no script(1) for a pseudo-terminal') }, () => {
  const home = homeWith(week());
  const [node, pre] = lsmCommand();
  const run = (extra: Record<string, string>) =>
    spawnSync('script', ['-qec', [node, ...pre, 'audit', 'stats'].map((a) => `'${a}'`).join(' '), '/dev/null'], {
      env: cleanEnv({ LSM_DIR: home, TZ: 'America/New_York', TERM: 'xterm', ...extra }), encoding: 'utf8', input: '',
    }).stdout;
  const tty = run({});
  assert.match(tty, /\u001b\[31m██\u001b\[0m/);
  assert.match(tty, /Keys \(3\)/);
  const plain = run({ NO_COLOR: '1' });
  assert.ok(!plain.includes('\u001b'), plain);
  assert.match(plain, /██/);
});
