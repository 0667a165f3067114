// Judged in New York time, as the corpus is written; set before any Date is used.
process.env.TZ = 'America/New_York';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benignHumanMonth, buildLines, nightOfIncidents, type Spec } from './fixtures/logs/corpus.js';
import { cleanEnv, initHome, lsm, lsmCommand } from './helpers.js';

const NY = { TZ: 'America/New_York' };

function homeWith(specs: Spec[]): string {
  const home = initHome();
  writeFileSync(join(home, 'audit.jsonl'), buildLines(specs).map((l) => `${l}\n`).join(''), { mode: 0o600 });
  return home;
}

const WINDOW = ['--since', '2026-02-17 00:00', '--until', '2026-02-19 00:00'];

function report(home: string, args: string[] = WINDOW, env: Record<string, string> = {}) {
  return lsm(['audit', 'report', ...args], { home, env: { ...NY, ...env } });
}

test('report: the night flags exactly the agent reading prod plaintext at 03:00, the cron job and the new process', () => {
  const home = homeWith(nightOfIncidents().specs);
  const r = report(home, [...WINDOW, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  const flagged = rep.actors.filter((a: any) => Object.keys(a.flags).length > 0).map((a: any) => [a.caller, a.actor, Object.keys(a.flags).join(','), a.high]);
  assert.deepEqual(flagged, [
    ['unattended', 'python3', 'agent_plaintext,new_parent_comm,non_interactive_no_agent', true],
    ['agent', 'claude s-1', 'agent_plaintext,outside_hours', true],
    ['unattended', 'cron', 'agent_plaintext,outside_hours,non_interactive_no_agent', false],
  ]);
  const claude = rep.actors.find((a: any) => a.agent === 'claude');
  assert.deepEqual(claude.how, { plaintext: 1, denied: 1 });
  assert.deepEqual(claude.places, [{ place: 'web/prod', events: 2, how: { plaintext: 1, denied: 1 }, approved: 0, keys: { DATABASE_URL: 1, STRIPE_SECRET: 1 } }]);
  assert.equal(claude.outside_hours, 2);
  // Codex under a generic node is its own actor, not the user's node at a terminal.
  const codex = rep.actors.find((a: any) => a.agent === 'codex');
  assert.deepEqual([codex.process, codex.session, codex.how, codex.flags], ['node', '7c1e9a42-thread', { masked: 1 }, {}]);
  const node = rep.actors.find((a: any) => a.caller === 'human' && a.process === 'node');
  assert.deepEqual([node.events, node.how], [1, { plaintext: 1 }]);
  assert.equal(rep.integrity.ok, true);
  assert.match(rep.integrity.summary, /^OK: chain valid \(\d+ events\); not sealed; no anchors$/);
  // Cron's exit: 3 with --fail-on-match.
  assert.equal(report(home, [...WINDOW, '--fail-on-match', '--format', 'json']).code, 3);
});

test('report: a benign 40 days of a human flags nothing, not even the first event; a declined dump is not an access', () => {
  const home = homeWith(benignHumanMonth().specs);
  const r = report(home, ['--since', '2026-01-01', '--fail-on-match', '--format', 'json']);
  assert.equal(r.code, 0, r.stdout);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.flagged, 0);
  assert.equal(rep.actors.length, 1);
  assert.equal(rep.actors[0].caller, 'human');
  assert.equal(rep.actors[0].how.declined, 1);
  const s = lsm(['audit', 'suspicious', '--format', 'json'], { home, env: NY });
  assert.equal(s.stdout, '', 'suspicious agrees');
});

test('report: on 80 columns every line fits, callers are named in words, the verdict is one line', () => {
  const home = homeWith(nightOfIncidents().specs);
  const r = report(home, [...WINDOW, '--format', 'text'], { NO_COLOR: '1' });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  for (const l of lines) assert.ok(l.length <= 80, `too wide: ${JSON.stringify(l)}`);
  assert.ok(lines.length <= 30, `${lines.length} lines`);
  assert.equal(lines[0], 'What touched your secrets, 2026-02-17 00:00 – 2026-02-19 00:00');
  assert.equal(lines[1], '22 events by 6 callers, 3 flagged; from --since; America/New_York');
  assert.match(r.stdout, /^!! AGENT claude, session s-1 +2 events\n {3}when {3}2026-02-18 03:00 – 03:01, all outside 07:00-23:00\n {3}what {3}web\/prod {2}1 plaintext, 1 denied {2}DATABASE_URL, STRIPE_SECRET\n {3}flags {2}got plaintext of prod; outside hours \(2\)$/m);
  assert.match(r.stdout, /^!  NO TERMINAL cron \(no agent marker\) +1 event$/m);
  assert.match(r.stdout, /^ {3}AGENT codex, session 7c1e9a42 \(under node\) +1 event$/m);
  assert.match(r.stdout, /^ {3}YOU at a terminal \(tmux: server\) +\d+ events$/m);
  assert.match(r.stdout, /^log {4}OK: chain valid \(\d+ events\); not sealed; no anchors$/m);
});

test('report: a broken chain is the verdict and exit 1; the default window is 24 hours, and a piped report does not move it', () => {
  const home = homeWith(nightOfIncidents().specs);
  const r = report(home, ['--format', 'json']);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.events, 0, 'the corpus is months old: nothing in the last 24 hours');
  assert.ok(Date.now() - Date.parse(rep.since) >= 86_400_000 - 60_000);
  assert.throws(() => readFileSync(join(home, 'report-state.json')), 'only a report read on a terminal moves the mark');
  const log = join(home, 'audit.jsonl');
  const lines = readFileSync(log, 'utf8').split('\n');
  lines[10] = lines[10].replace('"ts":"2026', '"ts":"2025');
  writeFileSync(log, lines.join('\n'));
  const bad = report(home, [...WINDOW, '--format', 'text'], { NO_COLOR: '1' });
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^log {4}FAIL: chain broken/m);
});

test("query hides lsm's own audit.* reads unless --all or --event 'audit.*'; --exclude-event leaves events out", () => {
  const home = homeWith(nightOfIncidents().specs);
  for (let i = 0; i < 3; i++) lsm(['audit', 'stats', '--format', 'json'], { home, env: NY });
  const events = (args: string[]) => lsm(['audit', 'query', '--format', 'json', ...args], { home, env: NY }).stdout.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l).event as string);
  assert.equal(events([]).filter((e) => e.startsWith('audit.')).length, 0);
  assert.equal(events(['--all']).filter((e) => e === 'audit.stats').length, 3);
  assert.equal(events(['--event', 'audit.*']).length >= 3, true);
  const all = events([]);
  const noGet = events(['--exclude-event', 'get', '--exclude-event', 'li*']);
  assert.ok(all.includes('get') && all.includes('list'));
  assert.deepEqual([...new Set(noGet)].sort(), ['dump', 'exec']);
});

/** Runs lsm on a pseudo-terminal of `cols` columns (script(1)); its output with CRs removed. */
function onTerminal(home: string, args: string[], cols = 80, env: Record<string, string> = {}): string {
  const [node, a] = lsmCommand();
  const cmd = `stty cols ${cols} rows 30; ${[node, ...a, ...args].map((x) => `'${x}'`).join(' ')}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: cleanEnv({ LSM_DIR: home, TERM: 'xterm', NO_COLOR: '1', TZ: 'America/New_York', ...env }) });
  return r.stdout.replace(/\r/g, '');
}

test('tail on an 80-column terminal: a header, the caller in words, long key lists cut to the width; audit.* hidden', () => {
  const specs = nightOfIncidents().specs;
  const many = Array.from({ length: 40 }, (_, i) => `KEY_NUMBER_${i}`);
  specs.push({ at: specs[specs.length - 1].at + 1000, who: specs[specs.length - 1].who, event: 'exec', app: 'web', env: 'dev', fields: { keys: many, program: 'npm', mask: false } });
  const home = homeWith(specs);
  lsm(['audit', 'stats', '--format', 'json'], { home, env: NY });
  const out = onTerminal(home, ['audit', 'tail', '-n', '5']);
  const lines = out.trimEnd().split('\n');
  for (const l of lines) assert.ok(l.length <= 80, `wider than 80: ${JSON.stringify(l)}`);
  assert.match(lines[0], /^TIME +SEQ +EVENT +APP\/ENV +CALLER +KEYS, FIELDS$/);
  assert.ok(!out.includes('audit.'), 'the stats run and these tails are not shown');
  assert.match(out, /exec plain +web\/dev +you: tmux: server +KEY_NUMBER_0,[^\n]*…\n/);
  assert.match(onTerminal(home, ['audit', 'tail', '-n', '3', '--all']), /audit\.tail/);
});

test('the attack the issue names: CLAUDECODE=1 lsm get myapp prod DATABASE_URL --reason debug is served, and flagged', () => {
  const home = initHome();
  const canary = 'postgres://u:CANARY-9f3b2c@db/prod';
  assert.equal(lsm(['set', 'myapp', 'prod', 'DATABASE_URL', canary], { home }).code, 0);
  const got = lsm(['get', 'myapp', 'prod', 'DATABASE_URL', '--reason', 'debug'], { home, env: { CLAUDECODE: '1', CLAUDE_CODE_SESSION_ID: 'abc123def456' } });
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout, canary, 'the policy serves it: a reason was given');
  // Any hour of the day: what is judged here must not depend on when the test runs.
  const s = lsm(['audit', 'suspicious', '--hours', '00:00-24:00', '--format', 'json', '--fail-on-match'], { home });
  assert.equal(s.code, 3);
  const flag = s.stdout.trimEnd().split('\n').map((l) => JSON.parse(l)).find((f) => f.event.event === 'get');
  assert.deepEqual([flag.reasons, flag.actor, flag.caller, flag.high, flag.event.event], [['agent_plaintext'], 'claude abc123de', 'agent', true, 'get']);
  const r = JSON.parse(lsm(['audit', 'report', '--hours', '00:00-24:00', '--format', 'json'], { home }).stdout);
  const claude = r.actors.find((a: any) => a.agent === 'claude');
  assert.deepEqual([claude.session, claude.how, claude.flags, claude.high], ['abc123def456', { plaintext: 1 }, { agent_plaintext: 1 }, true]);
  for (const out of [s.stdout, JSON.stringify(r), readFileSync(join(home, 'audit.jsonl'), 'utf8')]) assert.ok(!out.includes('CANARY-9f3b2c'), 'no value anywhere');
});

test('"since your last report": a report you read on a terminal moves the mark; an agent running it does not', () => {
  const home = homeWith(nightOfIncidents().specs);
  const state = join(home, 'report-state.json');
  const agent = onTerminal(home, ['audit', 'report'], 80, { CLAUDECODE: '1' });
  assert.match(agent, /last 24 hours/);
  assert.throws(() => readFileSync(state), 'an agent cannot push the next default window past what it did');
  const first = onTerminal(home, ['audit', 'report']);
  assert.match(first, /last 24 hours/);
  const mark = Date.parse(JSON.parse(readFileSync(state, 'utf8')).last_report);
  assert.ok(Math.abs(Date.now() - mark) < 600_000);
  assert.match(onTerminal(home, ['audit', 'report']), /since your last report/);
  // A mark in the future (an edit, a clock gone wrong) would hide everything: ignored.
  writeFileSync(state, JSON.stringify({ last_report: '2999-01-01T00:00:00Z' }));
  assert.match(JSON.parse(report(home, ['--format', 'json']).stdout).since, /^\d{4}-/);
  assert.ok(Date.now() - Date.parse(JSON.parse(report(home, ['--format', 'json']).stdout).since) >= 86_400_000 - 60_000);
});
