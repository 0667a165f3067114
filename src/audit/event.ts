import { goNumber, goString, goValue, type GoJsonOptions } from './gojson.js';

/**
 * The audit row, schema 1 (the original Go lsm's) and schema 2 (lsm's), and the one
 * canonical encoding of each: the bytes the hash is taken over. docs/audit.md is the
 * reference for every field.
 */

export const SCHEMA = 2;
export type Outcome = 'ok' | 'denied' | 'error';
export const OUTCOMES: readonly Outcome[] = ['ok', 'denied', 'error'];

/** One process above lsm: enough to tell `agent -> bash -> lsm` from `bash -> lsm`. */
export interface Ancestor {
  pid: number;
  comm: string;
  /** Process start time, RFC 3339 UTC; with the pid it identifies the process despite pid reuse. "" if unknown. */
  start: string;
}

export interface Actor {
  ppid: number;
  parent_comm: string;
  tty: string;
  cwd: string;
  agent_marker: string;
  uid: number;
  // Schema 2 only.
  pid?: number;
  /** `env:VAR` for the variable that named the agent, `ancestry` for a process name. */
  agent_source?: string;
  agent_session?: string;
  /** Every agent variable present, strong or weak (`VAR` or `VAR=value` for value-matched ones). */
  agent_vars?: string[];
  ancestry?: Ancestor[];
}

export interface AuditRow {
  schema_version: number;
  seq: number;
  ts: string;
  event: string;
  app?: string;
  env?: string;
  /** Schema 2 only. */
  outcome?: Outcome;
  actor: Actor;
  fields?: Record<string, unknown>;
  local_only?: boolean;
  prev: string;
  hash: string;
  /** A MAC over `hash`, added after it by sealing; never part of the hash. */
  seal?: string;
}

const ROW_KEYS_1 = ['schema_version', 'seq', 'ts', 'event', 'app', 'env', 'actor', 'fields', 'local_only', 'prev', 'hash'];
const ROW_KEYS_2 = [...ROW_KEYS_1.slice(0, 6), 'outcome', ...ROW_KEYS_1.slice(6)];
const ACTOR_KEYS_1 = ['ppid', 'parent_comm', 'tty', 'cwd', 'agent_marker', 'uid'];
const ACTOR_KEYS_2 = [...ACTOR_KEYS_1, 'pid', 'agent_source', 'agent_session', 'agent_vars', 'ancestry'];
const ANCESTOR_KEYS = ['pid', 'comm', 'start'];
/** Keys a reader accepts beyond the hashed ones. */
const TRAILER_KEYS = ['seal'];

function str(s: string | undefined, o: GoJsonOptions): string {
  return goString(s ?? '', o);
}

function isEmptyMap(m: Record<string, unknown> | undefined): boolean {
  if (m === undefined || m === null) return true;
  for (const _ in m) return false;
  return true;
}

function encodeActor(a: Actor, schema: number, o: GoJsonOptions): string {
  let s =
    `{"ppid":${goNumber(a.ppid)},"parent_comm":${str(a.parent_comm, o)},"tty":${str(a.tty, o)},` +
    `"cwd":${str(a.cwd, o)},"agent_marker":${str(a.agent_marker, o)},"uid":${goNumber(a.uid)}`;
  if (schema >= 2) {
    s += `,"pid":${goNumber(a.pid ?? 0)}`;
    if (a.agent_source) s += `,"agent_source":${str(a.agent_source, o)}`;
    if (a.agent_session) s += `,"agent_session":${str(a.agent_session, o)}`;
    if (a.agent_vars && a.agent_vars.length > 0) s += `,"agent_vars":[${a.agent_vars.map((v) => str(v, o)).join(',')}]`;
    const anc = (a.ancestry ?? []).map(
      (p) => `{"pid":${goNumber(p.pid)},"comm":${str(p.comm, o)},"start":${str(p.start, o)}}`,
    );
    s += `,"ancestry":[${anc.join(',')}]`;
  }
  return `${s}}`;
}

/**
 * The row's canonical line (no newline) with `hash` set to the given value; the chain
 * hashes it with `hash: ""`. `seal` is never part of it.
 */
export function encodeRow(row: AuditRow, hash: string, o: GoJsonOptions = {}): string {
  const v = row.schema_version;
  let s = `{"schema_version":${goNumber(v)},"seq":${goNumber(row.seq)},"ts":${str(row.ts, o)},"event":${str(row.event, o)}`;
  if (row.app) s += `,"app":${str(row.app, o)}`;
  if (row.env) s += `,"env":${str(row.env, o)}`;
  if (v >= 2) s += `,"outcome":${str(row.outcome, o)}`;
  s += `,"actor":${encodeActor(row.actor, v, o)}`;
  if (!isEmptyMap(row.fields)) s += `,"fields":${goValue(row.fields, o)}`;
  if (row.local_only) s += ',"local_only":true';
  return `${s},"prev":${str(row.prev, o)},"hash":${str(hash, o)}}`;
}

/** A line with the seal (if any) placed after the hash, as sealing appends it. */
export function encodeLine(row: AuditRow): string {
  const base = encodeRow(row, row.hash);
  return row.seal === undefined ? base : `${base.slice(0, -1)},"seal":${goString(row.seal)}}`;
}

type Shape = 'string' | 'number' | 'boolean' | 'object' | 'array';

function typeOf(v: unknown): Shape | 'null' | 'other' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'object' ? t : 'other';
}

// Go decodes null into a field as "leave it zero", so null is accepted wherever a value is.
function check(obj: Record<string, unknown>, key: string, want: Shape, where: string): string | undefined {
  const t = typeOf(obj[key]);
  if (t === 'null' || obj[key] === undefined || t === want) return undefined;
  const a = (s: string) => (/^[aeiou]/.test(s) ? `an ${s}` : `a ${s}`);
  return `${where}${key} is ${t === 'other' ? 'invalid' : a(t)}, not ${a(want)}`;
}

function unknownKey(obj: Record<string, unknown>, known: string[], where: string, trailer: string[] = []): string | undefined {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k) && !trailer.includes(k)) return `unknown field ${JSON.stringify(where + k)} is not covered by the hash`;
  }
  return undefined;
}

/**
 * Checks that a parsed line has the shape of a row of its schema, so that it can be
 * re-encoded; returns the first problem, or undefined. Unknown fields are a problem:
 * they would sit in the file unprotected by the hash.
 */
export function shapeProblem(obj: Record<string, unknown>): string | undefined {
  const v = obj.schema_version;
  const keys = v === 1 ? ROW_KEYS_1 : ROW_KEYS_2;
  const actorKeys = v === 1 ? ACTOR_KEYS_1 : ACTOR_KEYS_2;
  const top =
    unknownKey(obj, keys, '', TRAILER_KEYS) ??
    check(obj, 'seq', 'number', '') ??
    check(obj, 'ts', 'string', '') ??
    check(obj, 'event', 'string', '') ??
    check(obj, 'app', 'string', '') ??
    check(obj, 'env', 'string', '') ??
    check(obj, 'outcome', 'string', '') ??
    check(obj, 'actor', 'object', '') ??
    check(obj, 'fields', 'object', '') ??
    check(obj, 'local_only', 'boolean', '') ??
    check(obj, 'prev', 'string', '') ??
    check(obj, 'hash', 'string', '');
  if (top) return top;
  const actor = obj.actor as Record<string, unknown> | null | undefined;
  if (!actor) return undefined;
  const a =
    unknownKey(actor, actorKeys, 'actor.') ??
    check(actor, 'ppid', 'number', 'actor.') ??
    check(actor, 'parent_comm', 'string', 'actor.') ??
    check(actor, 'tty', 'string', 'actor.') ??
    check(actor, 'cwd', 'string', 'actor.') ??
    check(actor, 'agent_marker', 'string', 'actor.') ??
    check(actor, 'uid', 'number', 'actor.') ??
    check(actor, 'pid', 'number', 'actor.') ??
    check(actor, 'agent_source', 'string', 'actor.') ??
    check(actor, 'agent_session', 'string', 'actor.') ??
    check(actor, 'agent_vars', 'array', 'actor.') ??
    check(actor, 'ancestry', 'array', 'actor.');
  if (a) return a;
  for (const v2 of (actor.agent_vars as unknown[] | null | undefined) ?? []) {
    if (typeof v2 !== 'string') return 'actor.agent_vars holds a non-string';
  }
  for (const p of (actor.ancestry as unknown[] | null | undefined) ?? []) {
    if (typeOf(p) !== 'object') return 'actor.ancestry holds a non-object';
    const e = p as Record<string, unknown>;
    const bad =
      unknownKey(e, ANCESTOR_KEYS, 'actor.ancestry[].') ??
      check(e, 'pid', 'number', 'actor.ancestry[].') ??
      check(e, 'comm', 'string', 'actor.ancestry[].') ??
      check(e, 'start', 'string', 'actor.ancestry[].');
    if (bad) return bad;
  }
  return undefined;
}

/** A parsed object of the right shape as a row, with Go's zero values for what is missing. */
export function toRow(obj: Record<string, unknown>): AuditRow {
  const a = (obj.actor ?? {}) as Record<string, any>;
  const actor: Actor = {
    ppid: a.ppid ?? 0,
    parent_comm: a.parent_comm ?? '',
    tty: a.tty ?? '',
    cwd: a.cwd ?? '',
    agent_marker: a.agent_marker ?? '',
    uid: a.uid ?? 0,
  };
  if (obj.schema_version !== 1) {
    actor.pid = a.pid ?? 0;
    if (a.agent_source) actor.agent_source = a.agent_source;
    if (a.agent_session) actor.agent_session = a.agent_session;
    if (a.agent_vars) actor.agent_vars = a.agent_vars;
    actor.ancestry = ((a.ancestry ?? []) as Array<Record<string, any>>).map((p) => ({
      pid: p.pid ?? 0,
      comm: p.comm ?? '',
      start: p.start ?? '',
    }));
  }
  const row: AuditRow = {
    schema_version: obj.schema_version as number,
    seq: (obj.seq as number) ?? 0,
    ts: (obj.ts as string) ?? '',
    event: (obj.event as string) ?? '',
    actor,
    prev: (obj.prev as string) ?? '',
    hash: (obj.hash as string) ?? '',
  };
  if (obj.app) row.app = obj.app as string;
  if (obj.env) row.env = obj.env as string;
  if (obj.schema_version !== 1) row.outcome = ((obj.outcome as string) ?? '') as Outcome;
  if (obj.fields) row.fields = obj.fields as Record<string, unknown>;
  if (obj.local_only) row.local_only = true;
  if (typeof obj.seal === 'string') row.seal = obj.seal;
  return row;
}

/** RFC 3339 in UTC with the fraction trimmed as Go's RFC3339Nano does ("…:00Z", "…:01.12Z"). */
export function formatTs(d: Date): string {
  const year = d.getUTCFullYear();
  // Built from the UTC fields: V8 loads the time zone on the first toISOString (0.2-0.5 ms
  // of every `lsm get`), which UTC output does not need. Other years keep its ±YYYYYY form.
  if (!(year >= 0 && year <= 9999)) return d.toISOString().replace(/\.?0*Z$/, 'Z');
  const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
  const ms = d.getUTCMilliseconds();
  const fraction = ms === 0 ? '' : `.${String(ms).padStart(3, '0')}`.replace(/0+$/, '');
  return `${String(year).padStart(4, '0')}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}T${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}${fraction}Z`;
}
