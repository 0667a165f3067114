import {
  BurstJudge, NewActorJudge, REASONS, WallClock, actorOf, agentOf, agentPlaintext, approvalRefused, isAuditEvent, isCanary, nonInteractiveNoAgent, outsideHours,
  type Hours, type Reason,
} from './detectors.js';
import { actorIdOf, actorLabel, type ActorId } from './access.js';
import { tsMillis } from './query.js';
import { TamperPass } from './tamper-detectors.js';
import type { AuditRow } from './event.js';

/**
 * `audit suspicious` as one streaming pass: rows go in in file order, flagged rows come
 * out with their reasons, and consecutive flagged rows of one actor are grouped into
 * incidents. Nothing is retained but per-actor detector state and the open incident.
 */

export interface SuspiciousSettings {
  hours: Hours;
  /** Judge hours in UTC instead of the process's time zone. */
  utc: boolean;
  burstThreshold: number;
  burstWindowMs: number;
  lookbackMs: number;
  /** Inclusive, ms. Rows before it are history: they feed burst and new_parent_comm but are not reported. */
  since?: number;
  /** Exclusive, ms. Rows from it on are ignored. */
  until?: number;
}

export interface Flagged {
  row: AuditRow;
  /** The stored line. */
  raw: string;
  reasons: Reason[];
  /** The nearest non-shell process: what burst and new_parent_comm judge. */
  actor: string;
  /** Who, as one identity (agent and session, else process): what incidents group by. */
  id: ActorId;
  /** agent_plaintext of a prod* secret, or a canary: worth reading first. */
  high: boolean;
  /** NaN when the row's ts cannot be read. */
  ms: number;
}

export class SuspiciousPass {
  flagged = 0;
  seqFrom = Infinity;
  seqTo = -Infinity;
  /** The earliest and latest timestamps read (up to --until): a log spanning less than the lookback gets a note. */
  firstMs = Infinity;
  lastMs = -Infinity;

  private readonly clock: WallClock;
  private readonly burst: BurstJudge;
  private readonly fresh: NewActorJudge;
  private readonly tamper = new TamperPass();

  constructor(private readonly s: SuspiciousSettings) {
    this.clock = new WallClock(s.utc);
    this.burst = new BurstJudge(s.burstThreshold, s.burstWindowMs);
    this.fresh = new NewActorJudge(s.lookbackMs);
  }

  /** Feeds one row; returns it with its reasons when it is flagged. */
  feed(row: AuditRow, raw: string): Flagged | undefined {
    // lsm's own audit.* rows (earlier flags, verify runs) are bookkeeping, not accesses:
    // judging them would make every cron run of this command a new burst of its own.
    const ms = tsMillis(row.ts);
    // Tampering is judged on every row, bookkeeping included, and whatever --since says:
    // a row stamped back in time must not fall out of the window it was stamped out of.
    const tampered = this.tamper.feed(row, ms);
    if (isAuditEvent(row) && tampered.length === 0) return undefined;
    const timed = !Number.isNaN(ms);
    if (!timed && (this.s.since !== undefined || this.s.until !== undefined) && tampered.length === 0) return undefined;
    if (timed && this.s.until !== undefined && ms >= this.s.until) return undefined;
    const actor = actorOf(row);
    const reasons: Reason[] = [];
    if (timed) {
      if (ms < this.firstMs) this.firstMs = ms;
      if (ms > this.lastMs) this.lastMs = ms;
      // Per agent too: reads spread over differently named helper processes (the actor)
      // are still one agent's burst. By marker, not session: a ring per session would be
      // one per agent run, kept for the whole log. Both rings are fed whatever the first says.
      const agent = agentOf(row);
      const byActor = this.burst.feed(actor, ms);
      const byAgent = agent !== '' && this.burst.feed(`agent\0${agent}`, ms);
      const burst = byActor || byAgent;
      const fresh = this.fresh.feed(actor, ms);
      if (this.s.since !== undefined && ms < this.s.since && tampered.length === 0) return undefined;
      if (outsideHours(this.clock.minuteOfDay(ms), this.s.hours)) reasons.push('outside_hours');
      if (burst) reasons.push('burst');
      if (fresh) reasons.push('new_parent_comm');
    }
    const plain = agentPlaintext(row);
    if (plain) reasons.unshift('agent_plaintext');
    if (nonInteractiveNoAgent(row)) reasons.push('non_interactive_no_agent');
    if (isCanary(row)) reasons.push('canary');
    const refused = approvalRefused(row);
    if (refused) reasons.push('approval_refused');
    reasons.push(...tampered);
    if (reasons.length === 0) return undefined;
    return this.flag({ row, raw, reasons, actor, id: actorIdOf(row), high: plain === 'high' || isCanary(row) || refused, ms });
  }

  private flag(f: Flagged): Flagged {
    this.flagged++;
    if (f.row.seq < this.seqFrom) this.seqFrom = f.row.seq;
    if (f.row.seq > this.seqTo) this.seqTo = f.row.seq;
    return f;
  }

  /** The log holds less time than the lookback: new_parent_comm is not judged before it has a baseline. */
  get young(): boolean {
    return this.lastMs >= this.firstMs && this.lastMs - this.firstMs < this.s.lookbackMs;
  }
}

export interface Incident {
  /** The identity's short name (actorLabel). */
  actor: string;
  id: ActorId;
  high: boolean;
  firstMs: number;
  lastMs: number;
  count: number;
  reasons: Reason[];
  /** `app/env` pairs touched, sorted. */
  places: string[];
  /** The rows, only when asked for (-v). */
  rows?: Flagged[];
}

/** Flagged rows of one actor further apart than this start a new incident. */
export const INCIDENT_GAP_MS = 60 * 60_000;

/**
 * Groups consecutive flagged rows of one actor identity (agent and session, else the
 * nearest non-shell process and whether it had a terminal). A row of another actor, or one more
 * than an hour from the open incident's last row, closes it: a nightly cron job is one
 * incident per night, not one per week.
 */
export class IncidentGrouper {
  private open: { inc: Incident; reasons: Set<Reason>; places: Set<string> } | undefined;

  constructor(private readonly keepRows: boolean, private readonly emit: (inc: Incident) => void) {}

  add(f: Flagged): void {
    const o = this.open;
    const near = o && (Number.isNaN(f.ms) || Number.isNaN(o.inc.lastMs) || Math.abs(f.ms - o.inc.lastMs) <= INCIDENT_GAP_MS);
    if (o && o.inc.id.key === f.id.key && near) {
      o.inc.count++;
      if (f.high) o.inc.high = true;
      if (!Number.isNaN(f.ms)) {
        if (Number.isNaN(o.inc.firstMs) || f.ms < o.inc.firstMs) o.inc.firstMs = f.ms;
        if (Number.isNaN(o.inc.lastMs) || f.ms > o.inc.lastMs) o.inc.lastMs = f.ms;
      }
      for (const r of f.reasons) o.reasons.add(r);
      o.places.add(place(f.row));
      o.inc.rows?.push(f);
      return;
    }
    this.finish();
    this.open = {
      inc: { actor: actorLabel(f.id), id: f.id, high: f.high, firstMs: f.ms, lastMs: f.ms, count: 1, reasons: [], places: [], rows: this.keepRows ? [f] : undefined },
      reasons: new Set(f.reasons),
      places: new Set([place(f.row)]),
    };
  }

  /** Emits the open incident, if any. */
  finish(): void {
    const o = this.open;
    if (!o) return;
    this.open = undefined;
    o.inc.reasons = REASONS.filter((r) => o.reasons.has(r));
    o.inc.places = [...o.places].sort();
    this.emit(o.inc);
  }
}

function place(row: AuditRow): string {
  return [row.app, row.env].filter(Boolean).join('/') || '-';
}
