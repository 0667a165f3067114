import { readSync } from 'node:fs';
import { GENESIS, HASH_RE } from './chain.js';

/**
 * Where the chain ends, found from the end of the file so that appending costs the
 * same at a million rows as at ten: usually one 64 KiB read.
 */

const CHUNK = 64 * 1024;

export interface Line {
  bytes: Buffer;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** Followed by "\n": false only for the file's last bytes after its last newline. */
  terminated: boolean;
}

/** `length` bytes at `position`, fewer at the end of the file. */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) return buf.subarray(0, got);
    got += n;
  }
  return buf;
}

/** The file's lines from the last to the first, read backwards in chunks; lines may be any length. */
export function* linesBackward(fd: number, size: number): Generator<Line> {
  let pos = size;
  let segEnd = size;
  let pieces: Buffer[] = [];
  while (pos > 0) {
    const start = Math.max(0, pos - CHUNK);
    const buf = readAt(fd, start, pos - start);
    let hi = buf.length;
    for (let i = buf.length - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) continue;
      pieces.unshift(buf.subarray(i + 1, hi));
      yield { bytes: Buffer.concat(pieces), offset: start + i + 1, terminated: segEnd !== size };
      pieces = [];
      segEnd = start + i;
      hi = i;
    }
    pieces.unshift(buf.subarray(0, hi));
    pos = start;
  }
  yield { bytes: Buffer.concat(pieces), offset: 0, terminated: segEnd !== size };
}

export interface ChainEnd {
  seq: number;
  hash: string;
  /** The file's last byte is "\n" (or the file is empty). */
  endsWithNewline: boolean;
  /**
   * Bytes after the last newline that are not a row (a write cut short): the next append
   * must not chain onto them but end them with a newline and name them in an
   * `audit.repair` event.
   */
  fragment?: Buffer;
}

function isBlank(b: Buffer): boolean {
  for (const c of b) if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  return true;
}

/** Just enough of a row to chain onto: a full check is `audit verify`'s job. */
function chainPoint(b: Buffer): { seq: number; hash: string } | undefined {
  try {
    const o = JSON.parse(b.toString('utf8')) as { seq?: unknown; hash?: unknown };
    if (typeof o !== 'object' || o === null) return undefined;
    // The next seq must be exact too: a row at 2^53 - 1 (only a hand edit makes one) is not continued.
    if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 1 || (o.seq as number) >= Number.MAX_SAFE_INTEGER) return undefined;
    if (typeof o.hash !== 'string' || !HASH_RE.test(o.hash)) return undefined;
    return { seq: o.seq as number, hash: o.hash };
  } catch {
    return undefined;
  }
}

export function findChainEnd(fd: number, size: number): ChainEnd {
  if (size === 0) return { seq: 0, hash: GENESIS, endsWithNewline: true };
  let endsWithNewline = true;
  let fragment: Buffer | undefined;
  let first = true;
  for (const line of linesBackward(fd, size)) {
    if (first) {
      first = false;
      endsWithNewline = line.terminated || line.bytes.length === 0;
    }
    if (isBlank(line.bytes)) continue;
    // A whole row that lacks only its newline is a row: JSON cut short never parses.
    const point = chainPoint(line.bytes);
    if (point) return { ...point, endsWithNewline, fragment };
    // Only bytes after the last newline can be a torn write: one write() carries a whole
    // line with its newline. A line that ends in one and is not a row was put there (an
    // edit that blanked the last event, say): it is passed over, not repaired, so that
    // verify goes on reporting it as tampering.
    if (!line.terminated) fragment = line.bytes;
  }
  return { seq: 0, hash: GENESIS, endsWithNewline, fragment };
}
