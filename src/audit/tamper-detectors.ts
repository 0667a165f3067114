import { DAMAGE_FIELD } from './damaged.js';
import type { AuditRow } from './event.js';

/**
 * Detectors of `audit suspicious` for tampering in a home with no keeper, each a pure
 * function of a row or a small judge fed the rows in file order:
 *
 * - `time_backwards`: a row stamped well before a row above it. lsm stamps rows under
 *   the log's lock, so in file order time only goes forward, but for a clock step.
 * - `torn_row`: a row the reader could only read in part (damaged.ts): cut short, or too
 *   deep or too large to be an event lsm wrote.
 * - `config_loosened`: a `config.changed` event whose settings let more through.
 * - `store_swapped`: a `store.unrecorded_change` event (a store replaced out of band).
 * - `keeper_alarm`: what a protected home's keeper found: the log put back or cut
 *   (`audit.rewound`), rows it did not write (`audit.foreign_append`), its socket moved
 *   (`keeper.socket_moved`), or the keeper before it killed (`keeper.unclean_exit`).
 */

export type TamperReason = 'time_backwards' | 'torn_row' | 'config_loosened' | 'store_swapped' | 'keeper_alarm';
export const TAMPER_REASONS: readonly TamperReason[] = ['time_backwards', 'torn_row', 'config_loosened', 'store_swapped', 'keeper_alarm'];

const KEEPER_ALARMS = new Set(['audit.rewound', 'audit.foreign_append', 'keeper.socket_moved', 'keeper.unclean_exit']);

/** Clock steps of a few seconds happen (NTP); a row stamped further back than this was not written then. */
export const TS_TOLERANCE_MS = 60_000;

export const CONFIG_CHANGED_EVENT = 'config.changed';
export const STORE_UNRECORDED_EVENT = 'store.unrecorded_change';

/** The latest timestamp seen in file order, and whether a row goes back past the tolerance. */
export class TimeOrderJudge {
  latest = -Infinity;
  latestSeq = 0;

  /** Feeds one row's time; returns the seq of the later row above it when it goes back too far. */
  feed(ms: number, seq: number): number | undefined {
    if (Number.isNaN(ms)) return undefined;
    if (ms < this.latest - TS_TOLERANCE_MS) return this.latestSeq;
    if (ms > this.latest) {
      this.latest = ms;
      this.latestSeq = seq;
    }
    return undefined;
  }
}

export function isTorn(row: AuditRow): boolean {
  return typeof row.fields?.[DAMAGE_FIELD] === 'string';
}

/** A recorded config change that loosened something (config-digest.ts names what, in `loosened`). */
export function isLoosening(row: AuditRow): boolean {
  if (row.event !== CONFIG_CHANGED_EVENT) return false;
  const l = row.fields?.loosened;
  return Array.isArray(l) ? l.length > 0 : l === true;
}

export function isStoreSwap(row: AuditRow): boolean {
  return row.event === STORE_UNRECORDED_EVENT;
}

/** All the tamper reasons of one row, with the judges' state moved on. */
export class TamperPass {
  private readonly time = new TimeOrderJudge();

  feed(row: AuditRow, ms: number): TamperReason[] {
    const out: TamperReason[] = [];
    if (this.time.feed(ms, row.seq) !== undefined) out.push('time_backwards');
    if (isTorn(row)) out.push('torn_row');
    if (isLoosening(row)) out.push('config_loosened');
    if (isStoreSwap(row)) out.push('store_swapped');
    if (KEEPER_ALARMS.has(row.event)) out.push('keeper_alarm');
    return out;
  }
}

/**
 * For readers with a time window: a row stamped before the window but written after
 * rows inside it (a backdated row) is shown anyway, with a warning, never dropped in
 * silence. `feed` every row in file order; true when the row is such a one.
 */
export class BackdatedGuard {
  private readonly time = new TimeOrderJudge();
  constructor(private readonly since: number | undefined) {}

  feed(row: AuditRow, ms: number): { above: number } | undefined {
    const before = this.time.latest;
    const above = this.time.latestSeq;
    this.time.feed(ms, row.seq);
    if (this.since === undefined || before < this.since) return undefined;
    return Number.isNaN(ms) || ms < this.since ? { above } : undefined;
  }
}
