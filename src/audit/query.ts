import { usage } from '../errors.js';
import { OUTCOMES, type AuditRow } from './event.js';

/**
 * The filters of `audit query` (and of any command that selects events): the original's,
 * plus key, outcome, agent and ancestor. All given filters must match.
 */
export interface Filter {
  app?: string;
  env?: string;
  /** Exact name, or a prefix ending in `*` (`audit.*`). */
  event?: string;
  parentComm?: string;
  agentMarker?: string;
  tty?: 'present' | 'absent';
  /** Inclusive, ms since the epoch. */
  since?: number;
  /** Exclusive, ms since the epoch. */
  until?: number;
  seqFrom?: number;
  seqTo?: number;
  /** A key named by the event: fields.key, or an element of fields.keys / fields.names. */
  key?: string;
  outcome?: string;
  /** `any` (some agent), `none`, or an agent's name. */
  agent?: string;
  /** A process name anywhere in the recorded ancestry (or the parent). */
  ancestor?: string;
}

const UNITS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000,
};

/** A Go-style duration (`90m`, `1h30m`, `1.5h`), also in days and weeks (`2d`, `1w`, `1d12h`); ms. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (!/^(\d+(\.\d+)?(ns|us|µs|μs|ms|s|m|h|d|w))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h|d|w)/g)) total += Number(m[1]) * UNITS[m[2]];
  return total;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

// Date would roll 2026-02-30 over to March 2 and 2026-13-45 into 2027: a typo in a cron
// job's --since must be an error, not another window that finds nothing.
function realDate(m: RegExpExecArray): boolean {
  const [y, mo, d, h = 0, mi = 0, s = 0, oh = 0, om = 0] = [...m.slice(1, 7), m[8], m[9]].map((x) => Number(x ?? 0));
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate(); // the last day of month mo
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days && h <= 23 && mi <= 59 && s <= 59 && oh <= 23 && om <= 59;
}

const LOCAL_DATETIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$/;
const CLOCK = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

/**
 * A point in time for --since/--until: `now`, `today`, `yesterday` (local midnight),
 * RFC 3339, a local date (midnight) or date and time (`2026-12-02 22:00[:05]`, the form
 * every text output prints), a time of day (`22:00`: the last time the clock showed it,
 * so today's if it has passed, else yesterday's), or a duration ago (`90m`, `2d`, `1w`).
 * Returns ms since the epoch; throws a usage error.
 */
export function parseTime(text: string, now: Date, flag = '--since'): number {
  const s = text.trim();
  const word = s.toLowerCase();
  if (word === 'now') return now.getTime();
  if (word === 'today' || word === 'yesterday') {
    return new Date(now.getFullYear(), now.getMonth(), now.getDate() - (word === 'yesterday' ? 1 : 0)).getTime();
  }
  const full = RFC3339.exec(s);
  if (full && realDate(full)) {
    const t = Date.parse(s.replace(' ', 'T'));
    if (!Number.isNaN(t)) return t;
  }
  const day = DATE_ONLY.exec(s);
  if (day && realDate(day)) {
    const t = new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])).getTime();
    if (!Number.isNaN(t)) return t;
  }
  const local = LOCAL_DATETIME.exec(s);
  if (local && realDate(local)) {
    const [y, mo, d, h, mi, sec] = local.slice(1, 7).map((x) => Number(x ?? 0));
    const ms = local[7] ? Math.round(Number(local[7]) * 1000) : 0;
    return new Date(y, mo - 1, d, h, mi, sec, ms).getTime();
  }
  const clock = CLOCK.exec(s);
  if (clock && Number(clock[1]) <= 23 && Number(clock[2]) <= 59 && Number(clock[3] ?? 0) <= 59) {
    const [h, mi, sec] = clock.slice(1, 4).map((x) => Number(x ?? 0));
    const t = new Date(now.getFullYear(), now.getMonth(), now.getDate(), h, mi, sec).getTime();
    return t <= now.getTime() ? t : new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1, h, mi, sec).getTime();
  }
  const ago = parseDuration(s);
  if (ago !== undefined) return now.getTime() - ago;
  throw usage(
    `${flag}: cannot read the time ${JSON.stringify(text)}`,
    "use a duration ago (90m, 36h, 2d, 1w), a time of day (22:00), today, yesterday, a local date and time (2026-05-14 22:00), or RFC 3339 (2026-05-14T12:00:00Z)",
  );
}

/** Event timestamps as ms since the epoch; NaN for a row whose ts cannot be read. */
export function tsMillis(ts: string): number {
  return Date.parse(ts);
}

function named(fields: Record<string, unknown> | undefined, key: string): boolean {
  if (!fields) return false;
  if (fields.key === key) return true;
  for (const list of [fields.keys, fields.names]) {
    if (Array.isArray(list) && list.includes(key)) return true;
  }
  return false;
}

/** Checks the filter's own values; throws a usage error. */
export function checkFilter(f: Filter): void {
  if (f.outcome !== undefined && !(OUTCOMES as readonly string[]).includes(f.outcome)) {
    throw usage(`--outcome must be one of ${OUTCOMES.join(', ')}, got ${JSON.stringify(f.outcome)}`);
  }
  if (f.tty !== undefined && f.tty !== 'present' && f.tty !== 'absent') {
    throw usage(`--tty must be 'present' or 'absent', got ${JSON.stringify(f.tty)}`);
  }
}

export function matches(row: AuditRow, f: Filter): boolean {
  const a = row.actor;
  if (f.app !== undefined && (row.app ?? '') !== f.app) return false;
  if (f.env !== undefined && (row.env ?? '') !== f.env) return false;
  if (f.event !== undefined) {
    if (f.event.endsWith('*') ? !row.event.startsWith(f.event.slice(0, -1)) : row.event !== f.event) return false;
  }
  if (f.parentComm !== undefined && a.parent_comm !== f.parentComm) return false;
  if (f.agentMarker !== undefined && a.agent_marker !== f.agentMarker) return false;
  if (f.tty === 'present' && !a.tty) return false;
  if (f.tty === 'absent' && a.tty) return false;
  if (f.seqFrom !== undefined && row.seq < f.seqFrom) return false;
  if (f.seqTo !== undefined && row.seq > f.seqTo) return false;
  if (f.since !== undefined || f.until !== undefined) {
    const t = tsMillis(row.ts);
    if (Number.isNaN(t)) return false;
    if (f.since !== undefined && t < f.since) return false;
    if (f.until !== undefined && t >= f.until) return false;
  }
  if (f.outcome !== undefined && row.outcome !== f.outcome) return false;
  if (f.key !== undefined && !named(row.fields, f.key)) return false;
  if (f.agent !== undefined) {
    const want = f.agent.toLowerCase();
    if (want === 'any' ? !a.agent_marker : want === 'none' ? !!a.agent_marker : a.agent_marker.toLowerCase() !== want) return false;
  }
  if (f.ancestor !== undefined && a.parent_comm !== f.ancestor && !(a.ancestry ?? []).some((p) => p.comm === f.ancestor)) {
    return false;
  }
  return true;
}

/**
 * Which events a reader shows: those `event` names (if given); lsm's own `audit.*` bookkeeping (the reads of someone
 * investigating) only with `all` or an `--event 'audit.…'` filter, and never an event
 * `--exclude-event` names (exact, or a prefix ending in `*`).
 */
export function eventVisibility(o: { all?: boolean; event?: string; exclude?: string[] }): (event: string) => boolean {
  const audit = Boolean(o.all) || (typeof o.event === 'string' && o.event.startsWith('audit.'));
  const ex = o.exclude ?? [];
  const only = o.event;
  return (e) => {
    if (only !== undefined && (only.endsWith('*') ? !e.startsWith(only.slice(0, -1)) : e !== only)) return false;
    if (!audit && e.startsWith('audit.')) return false;
    return !ex.some((x) => (x.endsWith('*') ? e.startsWith(x.slice(0, -1)) : e === x));
  };
}
