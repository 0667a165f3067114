import { usage } from '../errors.js';
import { agentOfProcess, isShell } from './agents.js';
import { howOf, isProd } from './access.js';
import type { AuditRow } from './event.js';
import { TAMPER_REASONS, type TamperReason } from './tamper-detectors.js';

/**
 * The detectors of `audit suspicious`: pure functions of a row, or small stateful
 * judges fed one row at a time, so a million-row log is judged in one pass with state
 * bounded by the number of distinct actors. The reason names are the original's.
 */

export type Reason = 'agent_plaintext' | 'outside_hours' | 'burst' | 'new_parent_comm' | 'non_interactive_no_agent' | 'canary' | 'approval_refused' | TamperReason;
/** The order reasons are listed in, whatever order they were found in. */
export const REASONS: readonly Reason[] = ['agent_plaintext', 'outside_hours', 'burst', 'new_parent_comm', 'non_interactive_no_agent', 'canary', 'approval_refused', ...TAMPER_REASONS];

export const CANARY_EVENT = 'canary.read';

// ---------------------------------------------------------------- who

function baseComm(comm: string): string {
  // macOS `ps` gives paths and login shells a leading '-'.
  return comm.replace(/^-/, '').replace(/^.*\//, '');
}

/**
 * The actor of a row: the nearest recorded ancestor that is not a shell or wrapper
 * (the agent or terminal behind `bash -c`), else the farthest one recorded, else the
 * parent. Schema-1 rows only have the parent. "" when nothing was captured.
 */
export function actorOf(row: AuditRow): string {
  const anc = row.actor.ancestry;
  if (anc && anc.length > 0) {
    for (const p of anc) if (p.comm && !isShell(p.comm)) return baseComm(p.comm);
    const far = anc[anc.length - 1].comm;
    if (far) return baseComm(far);
  }
  return baseComm(row.actor.parent_comm ?? '');
}

// Variables every terminal of an editor carries: they name the editor, not an agent.
// The capture only uses them off a TTY, which is exactly when they would hide a script.
const WEAK_SOURCES = new Set(['env:CURSOR_TRACE_ID', 'env:TERM_PROGRAM', 'env:ZED_TERM', 'env:CODEIUM_EDITOR_APP_ROOT', 'env:REPL_ID']);

/**
 * The agent a row names with evidence worth trusting, or "" for none: a strong marker
 * variable, or an agent process among the ancestors (Aider runs commands on a PTY and
 * sets no variable). The original's `cursor` came from CURSOR_TRACE_ID, a weak one.
 */
export function agentOf(row: AuditRow): string {
  const a = row.actor;
  if (a.agent_marker) {
    const weak = row.schema_version === 1 ? a.agent_marker === 'cursor' : WEAK_SOURCES.has(a.agent_source ?? '');
    if (!weak) return a.agent_marker;
  }
  if (a.ancestry && a.ancestry.length > 0) {
    for (const p of a.ancestry) {
      const found = agentOfProcess(p.comm);
      if (found) return found;
    }
    return '';
  }
  return (a.parent_comm && agentOfProcess(a.parent_comm)) || '';
}

/** Stdin was a terminal. The original recorded `/dev/null` as one: it is not. */
export function hasTTY(row: AuditRow): boolean {
  const t = row.actor.tty;
  return t !== '' && t !== '/dev/null';
}

export type WhoClass = 'human' | 'unattended' | `agent:${string}`;

/** Who was behind an access: an agent (named), a person at a terminal, or nobody watching. */
export function whoClass(row: AuditRow): WhoClass {
  const agent = agentOf(row);
  if (agent) return `agent:${agent}`;
  return hasTTY(row) ? 'human' : 'unattended';
}

/** lsm's own bookkeeping (verify, query, previous flags): not an access to judge. */
export function isAuditEvent(row: AuditRow): boolean {
  return row.event.startsWith('audit.');
}

// ---------------------------------------------------------------- wall clock

const MIN = 60_000;
const DAY = 86_400_000;
const BUCKET = 15 * MIN;

/**
 * Local minute of day and weekday of instants, in the process's time zone or UTC.
 * Asking the zone database for every row of a big log is the slow part, so the offset
 * is cached per quarter hour; a quarter whose two ends disagree (it holds a DST
 * change) is resolved row by row.
 */
export class WallClock {
  private bucket = NaN;
  private offset = 0;
  constructor(private readonly utc: boolean) {}

  /** Minutes east of UTC at `ms`. */
  offsetAt(ms: number): number {
    if (this.utc) return 0;
    const b = Math.floor(ms / BUCKET);
    if (b !== this.bucket) {
      this.bucket = b;
      const start = -new Date(b * BUCKET).getTimezoneOffset();
      const end = -new Date(b * BUCKET + BUCKET - 1).getTimezoneOffset();
      this.offset = start === end ? start : NaN;
    }
    return Number.isNaN(this.offset) ? -new Date(ms).getTimezoneOffset() : this.offset;
  }

  /** 0..1439. */
  minuteOfDay(ms: number): number {
    const local = ms + this.offsetAt(ms) * MIN;
    return Math.floor((((local % DAY) + DAY) % DAY) / MIN);
  }

  /** `2026-05-14 03:00:00` on this clock. */
  format(ms: number): string {
    const d = new Date(ms + this.offsetAt(ms) * MIN);
    return d.toISOString().slice(0, 19).replace('T', ' ');
  }

  /** The zone's name, for headers. */
  get zone(): string {
    return this.utc ? 'UTC' : Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
  }

  /** 0 = Monday .. 6 = Sunday. */
  weekday(ms: number): number {
    const days = Math.floor((ms + this.offsetAt(ms) * MIN) / DAY);
    // 1970-01-01 was a Thursday (3 when Monday is 0).
    return (((days + 3) % 7) + 7) % 7;
  }
}

// ---------------------------------------------------------------- outside_hours

/** Allowed hours as minutes of the day, [start, end); start > end wraps midnight. */
export interface Hours {
  start: number;
  end: number;
  text: string;
}

export const DEFAULT_HOURS = '07:00-23:00';

/** `HH:MM-HH:MM` (or `H-H`); 24:00 only as an end. Throws a usage error. */
export function parseHours(text: string, flag = '--hours'): Hours {
  const m = /^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$/.exec(text);
  const bad = () => usage(`${flag}: cannot read ${JSON.stringify(text)}`, 'use HH:MM-HH:MM, e.g. 07:00-23:00, or 22:00-06:00 for a night shift');
  if (!m) throw bad();
  const minute = (h: string, mm: string | undefined, isEnd: boolean) => {
    const hh = Number(h);
    const mi = mm === undefined ? 0 : Number(mm);
    if (mi > 59 || hh > 24 || (hh === 24 && (mi !== 0 || !isEnd))) throw bad();
    return hh * 60 + mi;
  };
  const start = minute(m[1], m[2], false);
  const end = minute(m[3], m[4], true);
  if (start === end) throw usage(`${flag}: the window ${JSON.stringify(text)} is empty`, 'use 00:00-24:00 to allow every hour');
  return { start, end, text: text.trim() };
}

/** The minute of day falls outside the allowed window. */
export function outsideHours(minute: number, h: Hours): boolean {
  const inside = h.start < h.end ? minute >= h.start && minute < h.end : minute >= h.start || minute < h.end;
  return !inside;
}

// ---------------------------------------------------------------- burst

/**
 * `burst`: more than `threshold` events of one actor within `windowMs`. Each actor
 * keeps its last `threshold` timestamps in file order (a ring); a row is flagged when
 * the ring is full and the ring plus the row span less than the window, i.e. N+1
 * events fit in one window. In a time-ordered log this is the original's sliding
 * window exactly. Rows that arrive out of order (several lsm processes, a small clock
 * skew) are still compared by timestamp, min to max. After the clock steps back the
 * detector re-arms after `threshold` rows instead of going blind until the clock
 * catches up; a single row stamped far off simply makes no burst with its neighbours.
 */
export class BurstJudge {
  // Rings grow to the threshold only as an actor's rows arrive: a high threshold costs
  // nothing for actors that never come near it.
  private readonly rings = new Map<string, { ts: number[]; next: number }>();
  constructor(private readonly threshold: number, private readonly windowMs: number) {}

  /** Feeds one row; true when it completes a burst. */
  feed(actor: string, ms: number): boolean {
    let r = this.rings.get(actor);
    if (!r) this.rings.set(actor, (r = { ts: [], next: 0 }));
    const ts = r.ts;
    if (ts.length < this.threshold) {
      ts.push(ms);
      return false;
    }
    let hit = false;
    // The oldest entry is usually far enough away to decide at once.
    if (Math.abs(ms - ts[r.next]) < this.windowMs) {
      let lo = ms;
      let hi = ms;
      for (let i = 0; i < ts.length; i++) {
        const t = ts[i];
        if (t < lo) lo = t;
        if (t > hi) hi = t;
      }
      hit = hi - lo < this.windowMs;
    }
    ts[r.next] = ms;
    r.next = (r.next + 1) % this.threshold;
    return hit;
  }
}

// ---------------------------------------------------------------- new_parent_comm

/**
 * `new_parent_comm`: no earlier row (in file order) of the same actor is stamped later
 * than `lookbackMs` before this one. One number per actor: the latest time seen. A
 * late-stamped row of a known actor is therefore never new.
 *
 * Baseline rule: "new" needs a full lookback of history before the row. A row less
 * than `lookbackMs` after the log's earliest timestamp is never new, since nothing
 * could have been known before it (the first event of a log is not a stranger). The
 * original skipped the detector when the log was younger than the lookback; this is
 * the same rule judged per row, so a log older than the lookback is judged from the
 * day it has a baseline.
 */
export class NewActorJudge {
  private readonly last = new Map<string, number>();
  private earliest = Infinity;
  constructor(private readonly lookbackMs: number) {}

  feed(actor: string, ms: number): boolean {
    if (ms < this.earliest) this.earliest = ms;
    if (!actor) return false;
    const seen = this.last.get(actor);
    if (seen === undefined || ms > seen) this.last.set(actor, ms);
    if (this.earliest > ms - this.lookbackMs) return false;
    return seen === undefined || seen < ms - this.lookbackMs;
  }
}

// ---------------------------------------------------------------- agent_plaintext

/**
 * `agent_plaintext`: an agent or an unattended caller (no terminal, no agent: what an
 * agent without markers looks like) received the plaintext of a secret: a get, dump or
 * edit that succeeded, or an exec with its output unmasked. The person at a terminal
 * reading their own secret is what lsm is for, so is not flagged. "high" for prod*.
 */
export function agentPlaintext(row: AuditRow): 'high' | 'normal' | undefined {
  if (howOf(row) !== 'plaintext') return undefined;
  if (agentOf(row) === '' && hasTTY(row)) return undefined;
  return isProd(row.env) ? 'high' : 'normal';
}

// ---------------------------------------------------------------- non_interactive_no_agent / canary

/** No terminal and no agent: the "what is even running this" canary. */
export function nonInteractiveNoAgent(row: AuditRow): boolean {
  return !hasTTY(row) && agentOf(row) === '';
}

export function isCanary(row: AuditRow): boolean {
  return row.event === CANARY_EVENT;
}

/**
 * An approval asked and not given: a wrong passphrase or a cancel at the prompt, or
 * nobody answering in time. Someone wanted plaintext the user did not hand over.
 * (`approval.unavailable` is not flagged: no one was asked.)
 */
export function approvalRefused(row: AuditRow): boolean {
  return row.event === 'approval.denied' || row.event === 'approval.timeout';
}
