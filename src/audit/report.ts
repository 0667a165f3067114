import { approvalOf, actorIdOf, actorLabel, howOf, HOWS, type ActorId, type How } from './access.js';
import { REASONS, WallClock, isAuditEvent, outsideHours } from './detectors.js';
import { keysOf } from './stats.js';
import { tsMillis } from './query.js';
import { SuspiciousPass, type SuspiciousSettings } from './suspicious.js';
import type { AuditRow } from './event.js';

/**
 * `audit report`: per actor identity, what it touched (app/env, key names, counts), how
 * (plaintext, masked, denied, declined, approved), when (first-last, outside hours or
 * not) and which flags apply. One streaming pass; state grows with actors and keys, not
 * rows. The detectors are suspicious's own pass, so the two commands cannot disagree;
 * flags are kept as strings so any detector added to that pass shows up here as it is.
 */

export interface PlaceUse {
  /** `app/env`, or `-`. */
  place: string;
  prod: boolean;
  events: number;
  how: Partial<Record<How, number>>;
  approved: number;
  /** Key name -> events. */
  keys: Map<string, number>;
}

export interface ActorReport {
  id: ActorId;
  label: string;
  events: number;
  firstMs: number;
  lastMs: number;
  /** Events outside the normal hours. */
  outside: number;
  how: Partial<Record<How, number>>;
  approved: number;
  places: PlaceUse[];
  /** Flag name -> flagged events, in detector order. */
  flags: Array<[string, number]>;
  /** An agent_plaintext of a prod* secret, or a canary. */
  high: boolean;
  flagged: number;
}

export interface Report {
  since?: number;
  until?: number;
  events: number;
  actors: ActorReport[];
  flagged: number;
}

interface Acc extends Omit<ActorReport, 'places' | 'flags'> {
  places: Map<string, PlaceUse>;
  flags: Map<string, number>;
}

export class ReportPass {
  events = 0;
  flagged = 0;
  private readonly actors = new Map<string, Acc>();
  private readonly suspicious: SuspiciousPass;
  private readonly clock: WallClock;

  constructor(private readonly s: SuspiciousSettings) {
    this.suspicious = new SuspiciousPass(s);
    this.clock = new WallClock(s.utc);
  }

  feed(row: AuditRow, raw: string): void {
    // Every row goes through the detectors: rows before --since are their history.
    const f = this.suspicious.feed(row, raw);
    if (isAuditEvent(row)) return;
    const ms = tsMillis(row.ts);
    if (Number.isNaN(ms)) return;
    if ((this.s.since !== undefined && ms < this.s.since) || (this.s.until !== undefined && ms >= this.s.until)) return;
    this.events++;
    const id = actorIdOf(row);
    let a = this.actors.get(id.key);
    if (!a) {
      a = { id, label: actorLabel(id), events: 0, firstMs: ms, lastMs: ms, outside: 0, how: {}, approved: 0, places: new Map(), flags: new Map(), high: false, flagged: 0 };
      this.actors.set(id.key, a);
    }
    a.events++;
    if (ms < a.firstMs) a.firstMs = ms;
    if (ms > a.lastMs) a.lastMs = ms;
    if (outsideHours(this.clock.minuteOfDay(ms), this.s.hours)) a.outside++;
    const how = howOf(row);
    const approved = approvalOf(row) === 'approved' ? 1 : 0;
    a.how[how] = (a.how[how] ?? 0) + 1;
    a.approved += approved;
    const place = [row.app, row.env].filter(Boolean).join('/') || '-';
    let p = a.places.get(place);
    if (!p) a.places.set(place, (p = { place, prod: /^prod/i.test(row.env ?? ''), events: 0, how: {}, approved: 0, keys: new Map() }));
    p.events++;
    p.how[how] = (p.how[how] ?? 0) + 1;
    p.approved += approved;
    for (const k of keysOf(row)) p.keys.set(k, (p.keys.get(k) ?? 0) + 1);
    if (f) {
      this.flagged++;
      a.flagged++;
      if (f.high) a.high = true;
      for (const r of f.reasons) a.flags.set(r, (a.flags.get(r) ?? 0) + 1);
    }
  }

  /** The log holds less time than the lookback: new_parent_comm could judge nothing. */
  get young(): boolean {
    return this.suspicious.young;
  }

  get firstMs(): number {
    return this.suspicious.firstMs;
  }

  result(): Report {
    const rank = (a: Acc) => (a.high ? 2 : a.flagged > 0 ? 1 : 0);
    const actors = [...this.actors.values()]
      .sort((x, y) => rank(y) - rank(x) || y.flagged - x.flagged || y.events - x.events || (x.label < y.label ? -1 : 1))
      .map((a) => ({
        ...a,
        places: [...a.places.values()].sort((x, y) => Number(y.prod) - Number(x.prod) || y.events - x.events || (x.place < y.place ? -1 : 1)),
        // Detector order for the known flags, then any other detector's in the order found.
        flags: [...a.flags.entries()].sort((x, y) => order(x[0]) - order(y[0])),
      }));
    return { since: this.s.since, until: this.s.until, events: this.events, actors, flagged: this.flagged };
  }
}

function order(name: string): number {
  const i = (REASONS as readonly string[]).indexOf(name);
  return i < 0 ? REASONS.length : i;
}

/** `80 plaintext, 2 denied (1 approved)`: the how counts in a fixed order. */
export function howText(how: Partial<Record<How, number>>, approved: number): string {
  const parts = HOWS.filter((h) => how[h]).map((h) => `${how[h]} ${h}`);
  if (approved > 0) parts.push(`${approved} approved`);
  return parts.join(', ');
}
