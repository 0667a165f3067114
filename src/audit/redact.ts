import { actorIdOf, howOf, shippedActor } from './access.js';
import { createHmac } from 'node:crypto';
import type { AuditRow } from './event.js';

/**
 * What of an audit row may leave the machine. An allowlist: each attribute below is
 * built on purpose, and anything not named here (values, key names, cwd, tty path,
 * ancestry beyond the one process name lsm.actor.id carries, session ids, prev, hash)
 * has no way out. Nothing from the environment or
 * config.yaml reaches this module, so no setting can widen it. docs/observability.md
 * lists the attributes.
 */
export type AttrValue = string | boolean | number;

/** One OTLP log record, before encoding. Numbers are integers (OTLP intValue). */
export interface LogRecordData {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  eventName: string;
  body: string;
  attributes: Array<[string, AttrValue]>;
}

/** `audit.*` events (chain failures, sink drops, detector hits) and local-only ones stay here. */
export function isShippable(row: AuditRow): boolean {
  return !row.local_only && row.event !== 'audit' && !row.event.startsWith('audit.');
}

/**
 * Field names that may be shown as `lsm.<name>_present`. A name outside this list could
 * one day be data (a key name used as a field name); it only raises
 * `lsm.other_fields_present`.
 */
const FIELD_NAMES = new Set([
  'key', 'keys', 'names', 'count', 'reason', 'action', 'source', 'replaced', 'force', 'command', 'target',
  'file', 'format', 'repo', 'added', 'changed', 'removed', 'policy', 'mode', 'status',
]);

/** Numeric fields whose value is shipped: counts say nothing about names or values. */
const NUMERIC_FIELDS = new Set(['count']);

// Values that come from outside lsm (event names from old logs, process names) are
// bounded to a plain vocabulary so a label cannot carry a payload.
function plain(s: string, max = 64): string {
  return s.replace(/[^A-Za-z0-9._:@+-]/g, '_').slice(0, max);
}

/** First 12 hex characters of HMAC-SHA256(salt, name): stable per host, unreadable elsewhere. */
export function pseudonym(salt: Buffer, name: string): string {
  return createHmac('sha256', salt).update(name, 'utf8').digest('hex').slice(0, 12);
}

/** RFC 3339 to Unix nanoseconds as a decimal string, keeping every fraction digit; "0" if unreadable. */
export function unixNanos(ts: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(ts);
  if (!m) return '0';
  const ms = Date.parse(`${m[1]}${m[3].toUpperCase()}`);
  if (!Number.isFinite(ms)) return '0';
  return (BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'))).toString();
}

export function nowNanos(now: Date): string {
  return (BigInt(now.getTime()) * 1_000_000n).toString();
}

export function projectEvent(row: AuditRow, salt: Buffer, now: Date): LogRecordData {
  const event = plain(row.event) || 'unknown';
  const attrs: Array<[string, AttrValue]> = [
    ['lsm.kind', 'event'],
    ['lsm.event', event],
    ['lsm.seq', row.seq],
  ];
  if (row.outcome) attrs.push(['lsm.outcome', plain(row.outcome, 16)]);
  if (row.app) attrs.push(['lsm.app', pseudonym(salt, row.app)]);
  if (row.env) attrs.push(['lsm.env', pseudonym(salt, row.env)]);
  attrs.push(
    ['lsm.tty_present', row.actor.tty !== ''],
    ['lsm.agent_marker', plain(row.actor.agent_marker) || 'none'],
    ['lsm.actor.parent_comm', plain(row.actor.parent_comm)],
    // The identity the local detectors and `audit report` use (the agent's name, else the
    // nearest non-shell ancestor: `claude`, not the `bash` it runs lsm under), its class,
    // and how secrets were used. Sessions stay local: unbounded values make poor labels.
    ['lsm.actor.id', plain(shippedActor(row)) || 'unknown'],
    ['lsm.actor.class', actorIdOf(row).kind],
    ['lsm.how', howOf(row)],
    ['lsm.actor.ppid', Math.trunc(row.actor.ppid) || 0],
    ['lsm.actor.uid', Math.trunc(row.actor.uid) || 0],
  );
  let other = false;
  for (const name of Object.keys(row.fields ?? {}).sort()) {
    if (!FIELD_NAMES.has(name)) {
      other = true;
      continue;
    }
    const v = row.fields![name];
    if (NUMERIC_FIELDS.has(name) && Number.isSafeInteger(v)) attrs.push([`lsm.${name}`, v as number]);
    else attrs.push([`lsm.${name}_present`, true]);
  }
  if (other) attrs.push(['lsm.other_fields_present', true]);
  const quiet = row.outcome === undefined || row.outcome === 'ok';
  return {
    timeUnixNano: unixNanos(row.ts),
    observedTimeUnixNano: nowNanos(now),
    severityNumber: quiet ? 9 : 13,
    severityText: quiet ? 'INFO' : 'WARN',
    eventName: event,
    // Unique per event: Loki keeps one entry per (stream, timestamp, line), so a re-sent
    // event is stored once while two events of the same millisecond are both kept.
    body: `${event} seq=${row.seq}`,
    attributes: attrs,
  };
}

export interface Checkpoint {
  /** First seq this batch covers (the cursor + 1); `seq + 1` when it covers none. */
  seqFrom: number;
  /** Last seq covered, shipped or local-only, and the chain hash of that row. */
  seq: number;
  head: string;
  /** Events of the batch that were sent (local-only ones are covered but not sent). */
  shipped: number;
  heartbeat: boolean;
}

/**
 * The anchor that ends every batch: a copy of the chain head off the machine, and the
 * seq range it covers, so the receiver can see a gap (seq_from, seq and covered) or a
 * head that a rewritten log no longer has.
 */
export function projectCheckpoint(c: Checkpoint, now: Date): LogRecordData {
  const attrs: Array<[string, AttrValue]> = [
    ['lsm.kind', 'checkpoint'],
    ['lsm.seq', c.seq],
    ['lsm.seq_from', c.seqFrom],
    ['lsm.covered', Math.max(0, c.seq - c.seqFrom + 1)],
    ['lsm.shipped', c.shipped],
    ['lsm.heartbeat', c.heartbeat],
    ['lsm.chain.head', c.head],
  ];
  const t = nowNanos(now);
  return {
    timeUnixNano: t,
    observedTimeUnixNano: t,
    severityNumber: 9,
    severityText: 'INFO',
    eventName: 'lsm.checkpoint',
    body: `${c.heartbeat ? 'heartbeat' : 'checkpoint'} seq=${c.seq}`,
    attributes: attrs,
  };
}
