import { join } from 'node:path';
import { errno, ioError } from '../errors.js';
import { readRegular, writeFileAtomic } from '../atomic.js';
import { HASH_RE } from './chain.js';
import type { Home } from '../home.js';

/**
 * What the shipper remembers between runs. `audit.cursor`: the last row the collector
 * has acknowledged (seq, chain hash, and the byte offset after it so the next run
 * starts there instead of at the top). `ship.state`: how the last runs went, for
 * `lsm audit ship --status`. Both are replaced atomically. A missing or garbled file
 * means "nothing shipped yet" / "no history": shipping again from the start is safe,
 * since delivery is at least once and receivers deduplicate by (host, seq).
 */
export interface Cursor {
  seq: number;
  hash: string;
  offset: number;
}

export interface ShipState {
  lastAttempt?: string;
  lastSuccess?: string;
  /** The last failure, cleared by the next success. Never holds a header or a URL's credentials. */
  lastError?: { at: string; message: string };
  lastPartial?: { at: string; rejected: number; message: string; seqFrom: number; seqTo: number };
  lastDropped?: { at: string; status: number; count: number; seqFrom: number; seqTo: number };
  /** The log no longer holds the row the cursor names (rewritten or truncated). */
  cursorMismatch?: { at: string; seq: number; reason: string };
}

export const cursorPath = (home: Home): string => join(home.dir, 'audit.cursor');
export const statePath = (home: Home): string => join(home.dir, 'ship.state');

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(readRegular(path).toString('utf8')) as unknown; // never blocks on a FIFO
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch (err) {
    if (errno(err) !== 'ENOENT' && !(err instanceof SyntaxError)) throw ioError('read', path, err);
    return undefined;
  }
}

export function readCursor(home: Home): Cursor | undefined {
  const o = readJson(cursorPath(home));
  if (!o) return undefined;
  const { seq, hash, offset } = o;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0 || typeof hash !== 'string' || !HASH_RE.test(hash)) return undefined;
  return { seq: seq as number, hash, offset: Number.isSafeInteger(offset) && (offset as number) >= 0 ? (offset as number) : 0 };
}

export function writeCursor(home: Home, c: Cursor): void {
  writeFileAtomic(cursorPath(home), `${JSON.stringify({ seq: c.seq, hash: c.hash, offset: c.offset })}\n`);
}

export function readState(home: Home): ShipState {
  return (readJson(statePath(home)) as ShipState | undefined) ?? {};
}

export function writeState(home: Home, state: ShipState): void {
  writeFileAtomic(statePath(home), `${JSON.stringify(state, null, 2)}\n`);
}
