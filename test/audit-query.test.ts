import { localTime } from '../src/audit/format.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFilter, matches, parseDuration, parseTime, type Filter } from '../src/audit/query.js';
import { LsmError } from '../src/errors.js';
import type { AuditRow } from '../src/audit/event.js';
import { ACTOR } from './audit-fixtures.js';

const NOW = new Date('2026-05-14T12:00:00Z');

test('durations: Go units, days and weeks, compounds', () => {
  assert.equal(parseDuration('90m'), 90 * 60_000);
  assert.equal(parseDuration('1h30m'), 90 * 60_000);
  assert.equal(parseDuration('1.5h'), 90 * 60_000);
  assert.equal(parseDuration('2d'), 2 * 86_400_000);
  assert.equal(parseDuration('1w'), 7 * 86_400_000);
  assert.equal(parseDuration('1d12h'), 36 * 3_600_000);
  assert.equal(parseDuration('500ms'), 500);
  for (const bad of ['', '5', 'm', '-1h', '1y', '1h 30m']) assert.equal(parseDuration(bad), undefined, bad);
});

test('times: HH:MM (the last such time), today, yesterday, and the local date-times lsm prints', () => {
  const now = new Date(2026, 11, 3, 7, 30, 0); // 2026-12-03 07:30 local
  assert.equal(parseTime('22:00', now), new Date(2026, 11, 2, 22, 0).getTime(), 'not yet 22:00 today: last night');
  assert.equal(parseTime('06:15', now), new Date(2026, 11, 3, 6, 15).getTime(), 'earlier today');
  assert.equal(parseTime('07:30', now), now.getTime(), 'this very minute');
  assert.equal(parseTime('3:05:09', now), new Date(2026, 11, 3, 3, 5, 9).getTime());
  assert.equal(parseTime('today', now), new Date(2026, 11, 3).getTime());
  assert.equal(parseTime('Yesterday', now), new Date(2026, 11, 2).getTime());
  assert.equal(parseTime('2026-12-02 22:00', now), new Date(2026, 11, 2, 22, 0).getTime());
  assert.equal(parseTime('2026-12-02 22:00:05', now), new Date(2026, 11, 2, 22, 0, 5).getTime());
  assert.equal(parseTime('2026-05-14T10:00:00', now), new Date(2026, 4, 14, 10).getTime(), 'no offset: local time');
  // What the text readers print parses back to the same instant.
  const printed = localTime('2026-11-29T08:46:16Z');
  assert.equal(parseTime(printed, now), Date.parse('2026-11-29T08:46:16Z'));
});

test('times: now, RFC 3339, a date, a duration ago', () => {
  assert.equal(parseTime('now', NOW), NOW.getTime());
  assert.equal(parseTime('2026-05-14T10:00:00Z', NOW), Date.parse('2026-05-14T10:00:00Z'));
  assert.equal(parseTime('2026-05-14T12:00:00.5+02:00', NOW), Date.parse('2026-05-14T10:00:00.5Z'));
  assert.equal(parseTime('90m', NOW), NOW.getTime() - 90 * 60_000);
  assert.equal(parseTime('1w', NOW), NOW.getTime() - 7 * 86_400_000);
  assert.equal(parseTime('2026-05-13', NOW), new Date(2026, 4, 13).getTime());
  assert.equal(parseTime('2024-02-29', NOW), new Date(2024, 1, 29).getTime());
  assert.equal(parseTime('2026-12-31T23:59:59-23:59', NOW), Date.parse('2026-12-31T23:59:59-23:59'));
  // Dates that Date would roll over into another day are refused, not moved.
  const impossible = ['2026-13-45', '2026-99-99', '2026-02-29', '2026-02-30', '2026-11-31', '2026-00-00', '2026-05-00',
    '2026-11-31T00:00:00Z', '2026-11-29T24:00:00Z', '2026-11-29T08:60:00Z', '2026-11-29T08:46:99Z', '2026-11-29T08:46:16+25:00', '2026-11-29T08:46:16+01:60'];
  for (const bad of ['tomorrow', '25:00', '22:61', '2026-05-14 24:00', '14/05/2026', '', ...impossible]) {
    assert.throws(() => parseTime(bad, NOW, '--until'), (e: unknown) => e instanceof LsmError && e.exit === 2 && e.message.startsWith('--until:'), bad);
  }
});

function row(over: Omit<Partial<AuditRow>, 'actor'> & { actor?: Partial<AuditRow['actor']> } = {}): AuditRow {
  return {
    schema_version: 2, seq: 5, ts: '2026-05-14T11:00:00Z', event: 'get', app: 'web', env: 'prod', outcome: 'ok',
    fields: { key: 'API_KEY' }, prev: '', hash: '', ...over, actor: { ...ACTOR, ...over.actor },
  };
}

test('each filter selects what it names', () => {
  const since = parseTime('2h', NOW);
  const cases: Array<[Filter, AuditRow, boolean]> = [
    [{ app: 'web' }, row(), true],
    [{ app: 'api' }, row(), false],
    [{ env: 'prod' }, row(), true],
    [{ event: 'get' }, row(), true],
    [{ event: 'audit.*' }, row({ event: 'audit.verify' }), true],
    [{ event: 'audit.*' }, row(), false],
    [{ parentComm: 'bash' }, row(), true],
    [{ agentMarker: 'claude' }, row(), true],
    [{ tty: 'present' }, row(), false],
    [{ tty: 'absent' }, row(), true],
    [{ tty: 'present' }, row({ actor: { tty: '/dev/pts/1' } }), true],
    [{ since }, row(), true],
    [{ since }, row({ ts: '2026-05-14T09:59:59Z' }), false],
    [{ until: Date.parse('2026-05-14T11:00:00Z') }, row(), false],
    [{ until: Date.parse('2026-05-14T11:00:01Z') }, row(), true],
    [{ seqFrom: 5, seqTo: 5 }, row(), true],
    [{ seqFrom: 6 }, row(), false],
    [{ seqTo: 4 }, row(), false],
    [{ key: 'API_KEY' }, row(), true],
    [{ key: 'DB_URL' }, row({ fields: { keys: ['A', 'DB_URL'] } }), true],
    [{ key: 'DB_URL' }, row({ fields: { names: ['DB_URL'] } }), true],
    [{ key: 'DB_URL' }, row({ fields: { count: 1 } }), false],
    [{ outcome: 'ok' }, row(), true],
    [{ outcome: 'denied' }, row(), false],
    [{ agent: 'any' }, row(), true],
    [{ agent: 'none' }, row(), false],
    [{ agent: 'none' }, row({ actor: { agent_marker: '' } }), true],
    [{ agent: 'Claude' }, row(), true],
    [{ agent: 'codex' }, row(), false],
    [{ ancestor: 'claude' }, row(), true],
    [{ ancestor: 'zsh' }, row(), false],
    [{ app: 'web', env: 'prod', key: 'API_KEY', agent: 'any', since }, row(), true],
  ];
  for (const [f, r, want] of cases) assert.equal(matches(r, f), want, JSON.stringify(f));
});

test('bad filter values are usage errors', () => {
  assert.throws(() => checkFilter({ outcome: 'fine' }), (e: unknown) => e instanceof LsmError && e.exit === 2);
  assert.throws(() => checkFilter({ tty: 'maybe' as never }), /--tty must be 'present' or 'absent'/);
});
