import { WallClock, actorOf, isAuditEvent, whoClass, type WhoClass } from './detectors.js';
import { tsMillis } from './query.js';
import { howOf } from './access.js';
import type { AuditRow } from './event.js';

/**
 * `audit stats`, in one streaming pass: per key, per actor, and a 7 x 24 grid of
 * accesses by local weekday and hour. State grows with the number of distinct keys and
 * actors, never with the number of rows.
 */

export interface StatsWindow {
  /** Inclusive, ms. */
  since?: number;
  /** Exclusive, ms. */
  until?: number;
  utc: boolean;
}

export interface KeyStats {
  app: string;
  env: string;
  key: string;
  events: number;
  /** Plaintext reached the caller. */
  revealed: number;
  /** Reached a command whose output was masked. */
  masked: number;
  /** Refused by the policy (or an approval). */
  denied: number;
  /** The person said no at a prompt. */
  declined: number;
  /** The last access that revealed or masked, by timestamp; NaN when there was none. */
  lastMs: number;
  lastBy: WhoClass | '';
  by: Partial<Record<WhoClass, number>>;
}

export interface ActorStats {
  actor: string;
  events: number;
  keys: number;
  firstMs: number;
  lastMs: number;
}

export interface Stats {
  events: number;
  keys: KeyStats[];
  actors: ActorStats[];
  /** [weekday 0 = Monday][hour]. */
  heat: number[][];
}

/** Key names an event touched: fields.key, and the lists fields.keys and fields.names. */
export function keysOf(row: AuditRow): string[] {
  const f = row.fields;
  if (!f) return [];
  const out: string[] = [];
  if (typeof f.key === 'string' && f.key) out.push(f.key);
  for (const list of [f.keys, f.names]) {
    if (!Array.isArray(list)) continue;
    for (const k of list) if (typeof k === 'string' && k && !out.includes(k)) out.push(k);
  }
  return out;
}

export class StatsPass {
  events = 0;
  private readonly keys = new Map<string, KeyStats>();
  private readonly actors = new Map<string, ActorStats & { keySet: Set<string> }>();
  private readonly heat = Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
  private readonly clock: WallClock;

  constructor(private readonly w: StatsWindow) {
    this.clock = new WallClock(w.utc);
  }

  feed(row: AuditRow): void {
    // Bookkeeping of lsm's own (verify, query, flags) is not an access to a secret.
    if (isAuditEvent(row)) return;
    const ms = tsMillis(row.ts);
    if (Number.isNaN(ms)) return;
    if ((this.w.since !== undefined && ms < this.w.since) || (this.w.until !== undefined && ms >= this.w.until)) return;
    this.events++;
    this.heat[this.clock.weekday(ms)][Math.floor(this.clock.minuteOfDay(ms) / 60)]++;
    const who = whoClass(row);
    const actor = actorOf(row);
    let a = this.actors.get(actor);
    if (!a) this.actors.set(actor, (a = { actor, events: 0, keys: 0, firstMs: ms, lastMs: ms, keySet: new Set() }));
    a.events++;
    if (ms < a.firstMs) a.firstMs = ms;
    if (ms > a.lastMs) a.lastMs = ms;
    for (const key of keysOf(row)) {
      const id = `${row.app ?? ''}\u0000${row.env ?? ''}\u0000${key}`;
      a.keySet.add(id);
      let k = this.keys.get(id);
      if (!k) {
        k = { app: row.app ?? '', env: row.env ?? '', key, events: 0, revealed: 0, masked: 0, denied: 0, declined: 0, lastMs: NaN, lastBy: '', by: {} };
        this.keys.set(id, k);
      }
      k.events++;
      k.by[who] = (k.by[who] ?? 0) + 1;
      const how = howOf(row);
      if (how === 'plaintext') k.revealed++;
      else if (how === 'masked') k.masked++;
      else if (how === 'denied') k.denied++;
      else if (how === 'declined') k.declined++;
      // Only a use of the secret is an access: a refused or declined request is not "last by".
      // By timestamp, not file order: a late-written row does not become the "last" access.
      if ((how === 'plaintext' || how === 'masked') && !(ms < k.lastMs)) {
        k.lastMs = ms;
        k.lastBy = who;
      }
    }
  }

  result(): Stats {
    const last = (k: KeyStats) => (Number.isNaN(k.lastMs) ? -Infinity : k.lastMs);
    const keys = [...this.keys.values()].sort((x, y) => last(y) - last(x) || cmp(x.app, y.app) || cmp(x.env, y.env) || cmp(x.key, y.key));
    const actors = [...this.actors.values()]
      .map(({ keySet, ...a }) => ({ ...a, keys: keySet.size }))
      .sort((x, y) => y.events - x.events || cmp(x.actor, y.actor));
    return { events: this.events, keys, actors, heat: this.heat.map((r) => [...r]) };
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
