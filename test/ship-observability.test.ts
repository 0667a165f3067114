import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { lsm } from './helpers.js';
import { Receiver } from './fixtures/otlp/receiver.js';
import { enableShipping, homeWithEvents, ship } from './fixtures/otlp/ship-env.js';

// The original's rules queried `actor.parent_comm` in a body that only had flat keys,
// so they never matched. Here every label the rules and the dashboard name is looked
// up in a payload lsm really sent, under the name Loki gives it.

interface Ref {
  name: string;
  op?: string;
  value?: string;
  where: string;
}

/** Label names (and the literal values they are compared with) that a LogQL expression uses. */
function references(expr: string, where: string): Ref[] {
  const defined = new Set([...expr.matchAll(/label_format\s+([A-Za-z_]\w*)\s*=/g)].map((m) => m[1]));
  // Template bodies (`{{ ... }}`) are not label references.
  const e = expr.replace(/`[^`]*`/g, '""');
  const refs: Ref[] = [];
  for (const m of e.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|==|>=|<=|=|>|<)\s*("(?:[^"\\]|\\.)*"|-?[0-9.]+)/g)) {
    if (!defined.has(m[1])) refs.push({ name: m[1], op: m[2], value: m[3].startsWith('"') ? JSON.parse(m[3]) : m[3], where });
  }
  for (const m of e.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const n of m[1].split(',').map((s) => s.trim()).filter(Boolean)) refs.push({ name: n, where });
  }
  for (const m of e.matchAll(/\bunwrap\s+(?:\w+\()?([A-Za-z_]\w*)/g)) refs.push({ name: m[1], where });
  return refs;
}

/** The names Loki gives what lsm sends, with every value seen (as Loki stores them: strings). */
function lokiLabels(r: Receiver): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (key: string, v: unknown) => {
    const name = key.replace(/[^A-Za-z0-9_]/g, '_');
    if (!out.has(name)) out.set(name, new Set());
    out.get(name)!.add(String(v));
  };
  for (const d of r.delivered()) {
    for (const [k, v] of Object.entries(d.resource)) add(k, v);
    for (const [k, v] of Object.entries(d.attrs)) add(k, v);
  }
  return out;
}

let labels: Map<string, Set<string>>;
let agentGet: { code: number | null; stderr: string };
let receiver: Receiver;

before(async () => {
  receiver = await Receiver.start();
  const home = homeWithEvents();
  // One access with an agent marker, so the payload has both kinds of agent_marker, and
  // Claude given prod plaintext through the shell it runs commands in.
  lsm(['list', 'app', 'dev'], { home, env: { LSM_AGENT: 'claude' } });
  agentGet = lsm(['get', 'app', 'prod', 'OTHER', '--reason', 'debug'], { home, env: { CLAUDECODE: '1' } });
  enableShipping(home, { enabled: true, endpoint: receiver.url });
  const first = await ship(home);
  assert.equal(first.code, 0, first.stderr);
  assert.equal((await ship(home, '--heartbeat')).code, 0);
  assert.deepEqual(receiver.validationErrors(), []);
  labels = lokiLabels(receiver);
});

after(() => receiver.stop());

function check(refs: Ref[]): void {
  assert.ok(refs.length > 0);
  for (const ref of refs) {
    const values = labels.get(ref.name);
    assert.ok(values, `${ref.where}: label ${ref.name} is not in anything lsm sends (it sends: ${[...labels.keys()].join(', ')})`);
    if (ref.op === '=' && ref.value && !ref.value.includes('$')) {
      assert.ok(values.has(ref.value), `${ref.where}: ${ref.name}="${ref.value}" never occurs (seen: ${[...values].join(', ')})`);
    }
  }
}

function templateLabels(text: string): string[] {
  return [...text.matchAll(/\{\{\s*\$labels\.([A-Za-z_]\w*)\s*\}\}|\{\{\s*([A-Za-z_]\w*)\s*\}\}/g)].map((m) => m[1] ?? m[2]);
}

test('every label and value the Loki alert rules use is in the payload', () => {
  const doc = YAML.parse(readFileSync('observability/loki-alerts.yaml', 'utf8'));
  const rules = doc.groups.flatMap((g: any) => g.rules);
  const names = rules.map((r: any) => r.alert);
  for (const want of ['LsmAgentPlaintext', 'LsmOutsideHours', 'LsmBurstFromParentComm', 'LsmNewParentComm', 'LsmNonInteractiveNoAgent', 'LsmHeartbeatMissing', 'LsmSeqGap']) {
    assert.ok(names.includes(want), want);
  }
  for (const rule of rules) {
    check(references(rule.expr, rule.alert));
    const grouped = new Set(references(rule.expr, rule.alert).filter((r) => !r.op).map((r) => r.name));
    for (const l of templateLabels(JSON.stringify(rule.annotations ?? {}))) {
      assert.ok(grouped.has(l), `${rule.alert}: annotation uses ${l}, which the result does not carry`);
    }
  }
});

test('every label and value the Grafana dashboard uses is in the payload', () => {
  const dash = JSON.parse(readFileSync('observability/grafana-dashboard.json', 'utf8'));
  assert.equal(dash.uid, 'lsm-audit');
  const exprs = dash.panels.flatMap((p: any) => p.targets.map((t: any) => ({ expr: t.expr, where: p.title, legend: t.legendFormat ?? '' })));
  assert.ok(exprs.length >= 8);
  for (const { expr, where, legend } of exprs) {
    const refs = references(expr, where);
    check(refs);
    for (const l of templateLabels(legend)) assert.ok(refs.some((r) => r.name === l && !r.op), `${where}: legend uses ${l}`);
  }
  for (const v of dash.templating.list.filter((t: any) => t.type === 'query')) check(references(`${v.definition}`.replace(/label_values\(([^,]+),\s*(\w+)\)/, '$1 by ($2)'), `variable ${v.name}`));
});

test('the reference extractor sees what it must (so the checks above can fail)', () => {
  const refs = references('sum by (a, b) (count_over_time({service_name="lsm"} | x_y="1" | label_format h=`{{ .q }}` | h < 7 | unwrap lsm_seq [1m]))', 't');
  assert.deepEqual(refs.map((r) => r.name).sort(), ['a', 'b', 'lsm_seq', 'service_name', 'x_y']);
  assert.throws(() => check(references('{service_name="lsm"} | actor_parent_comm="x"', 'old')), /actor_parent_comm is not in anything lsm sends/);
  assert.throws(() => check(references('{service_name="lsm"} | lsm_kind="nope"', 'old')), /never occurs/);
});

test('the collector takes OTLP/HTTP on 4318 and sends logs to Loki’s OTLP endpoint', () => {
  const c = YAML.parse(readFileSync('observability/collector.yaml', 'utf8'));
  assert.match(c.receivers.otlp.protocols.http.endpoint, /:4318$/);
  const pipe = c.service.pipelines.logs;
  assert.deepEqual(pipe.receivers, ['otlp']);
  for (const p of pipe.processors) assert.ok(c.processors[p], p);
  for (const e of pipe.exporters) assert.match(c.exporters[e].endpoint, /\/otlp$/);
});

test('the actor shipped is the one the local detectors use: the agent, not the shell it runs lsm in', () => {
  assert.equal(agentGet.code, 0, agentGet.stderr);
  const gets = receiver.delivered().filter((d) => d.attrs['lsm.event'] === 'get' && d.attrs['lsm.agent_marker'] === 'claude');
  assert.equal(gets.length, 1);
  const a = gets[0].attrs;
  assert.deepEqual([a['lsm.actor.id'], a['lsm.actor.class'], a['lsm.how']], ['claude', 'agent', 'plaintext']);
  // What LsmAgentPlaintext selects matches it; the human-only rows do not carry class agent.
  const human = receiver.delivered().filter((d) => d.attrs['lsm.kind'] === 'event' && d.attrs['lsm.agent_marker'] === 'none');
  assert.ok(human.length > 0 && human.every((d) => d.attrs['lsm.actor.class'] === 'unattended'), 'tests run with no terminal');
  for (const d of receiver.delivered()) assert.ok(!JSON.stringify(d).includes('OTHER'), 'no key name leaves');
});
