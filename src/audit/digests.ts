import { closeSync, fstatSync, openSync, constants } from 'node:fs';
import { readRegular, writeFileAtomic } from '../atomic.js';
import { errno } from '../errors.js';
import { fileMemoOn, memoFile } from '../file-memo.js';
import { linesBackward, readAt } from './tailstate.js';

/**
 * The last recorded digest of each thing the log vouches for (a store's ciphertext, the
 * config in force), found without reading the whole log on every command. The log is
 * the authority: `<log>.digests` is only an index naming, per thing, the row that
 * recorded its digest (seq and byte offset). Every entry is checked against that row
 * before it is believed; one that is missing, garbled or does not match its row is
 * looked up again by reading the log backwards (once: the answer is written back).
 * Deleting or editing the index therefore costs a scan, never a silent pass. What it
 * cannot show: an index pointed at an older row of the same thing, together with the
 * file put back to what that row recorded (a rollback to a state the log once held).
 */

export interface Recorded {
  sha256: string;
  seq: number;
  offset: number;
  /** The row's fields, for callers that compare more than the digest (config settings). */
  fields: Record<string, unknown>;
}

type Index = Record<string, { sha256: string; seq: number; offset: number }>;

/** How a row names the thing it records a digest of, or undefined when it records none. */
export type Namer = (row: { event?: unknown; app?: unknown; env?: unknown; fields?: Record<string, unknown> }) => { name: string; sha256: string } | undefined;

/** Rows that write or vouch for a store carry `fields.store_sha256`. */
export const storeDigestOf: Namer = (row) => {
  const sha = row.fields?.store_sha256;
  if (typeof sha !== 'string' || typeof row.app !== 'string' || typeof row.env !== 'string') return undefined;
  return { name: `store:${row.app}/${row.env}`, sha256: sha };
};

/** `config.changed` rows carry `fields.config_sha256`, as does the first event of a log that recorded no config. */
export const configDigestOf: Namer = (row) => {
  const sha = row.fields?.config_sha256;
  if (typeof sha !== 'string') return undefined;
  return { name: 'config', sha256: sha };
};

const NAMERS = [storeDigestOf, configDigestOf];
const MARKERS = [Buffer.from('"store_sha256"'), Buffer.from('"config_sha256"')];

export const indexPath = (logPath: string) => `${logPath.replace(/\.jsonl$/, '')}.digests`;

function readIndex(logPath: string): Index {
  try {
    // Parsed on each call: the callers change the object they get.
    const path = indexPath(logPath);
    const v = JSON.parse(memoFile(path, 'text', () => readRegular(path).toString('utf8'))) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Index) : {};
  } catch {
    return {};
  }
}

function parse(bytes: Buffer): Record<string, any> | undefined {
  try {
    const o = JSON.parse(bytes.toString('utf8')) as unknown;
    return o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, any>) : undefined;
  } catch {
    return undefined;
  }
}

function openLogFd(logPath: string): number | undefined {
  try {
    return openSync(logPath, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ELOOP') return undefined;
    throw err;
  }
}

/** The row at `offset` if it is the row the entry names and records its digest (`end`: where its line ends). */
function check(fd: number, size: number, name: string, e: Index[string] | undefined): (Recorded & { end: number }) | undefined {
  if (!e || !Number.isSafeInteger(e.offset) || e.offset < 0 || e.offset >= size) return undefined;
  // A row is about a kilobyte: read that much first, the whole 64 KiB only for a longer one
  // (a log of a few hundred rows was otherwise read to its end at every command).
  let buf = readAt(fd, e.offset, Math.min(4096, size - e.offset));
  if (buf.indexOf(0x0a) < 0) buf = readAt(fd, e.offset, Math.min(64 * 1024, size - e.offset));
  const nl = buf.indexOf(0x0a);
  if (nl < 0 || (e.offset > 0 && readAt(fd, e.offset - 1, 1)[0] !== 0x0a)) return undefined;
  const row = parse(buf.subarray(0, nl));
  if (!row || row.seq !== e.seq) return undefined;
  const got = NAMERS.map((n) => n(row)).find((d) => d?.name === name);
  if (!got || got.sha256 !== e.sha256) return undefined;
  return { sha256: got.sha256, seq: row.seq as number, offset: e.offset, fields: row.fields ?? {}, end: e.offset + nl + 1 };
}

/**
 * In the keeper, the rows it has checked, by log file and index entry: a row of an
 * append-only log does not change under a given offset, so what was read there once is
 * what the log recorded there, and two of these reads a request are spared. A log cut
 * short of the row, or into it, is read again (and the keeper records the cut itself, state.ts).
 */
const seen = new Map<string, Recorded & { end: number }>();

function checked(fd: number, st: { dev: number; ino: number; size: number }, logPath: string, name: string, e: Index[string] | undefined): Recorded | undefined {
  if (!fileMemoOn()) {
    seen.clear();
    return check(fd, st.size, name, e);
  }
  const key = e ? `${logPath}\0${st.dev}:${st.ino}\0${name}\0${e.offset}:${e.seq}:${e.sha256}` : undefined;
  const kept = key ? seen.get(key) : undefined;
  if (kept && kept.end <= st.size) return kept;
  const hit = check(fd, st.size, name, e);
  if (hit && key) {
    if (seen.size > 256) seen.clear();
    seen.set(key, hit);
  }
  return hit;
}

/**
 * The digest the log last recorded for `name` (`store:app/env` or `config`), undefined
 * when it never recorded one, null when the log cannot be read (then appending to it
 * fails too, and says why). Reads the index, checks its entry against the
 * log; on a miss, reads the log backwards and mends the index (best effort).
 */
export function lastRecorded(logPath: string, name: string): Recorded | undefined | null {
  let fd: number | undefined;
  try {
    fd = openLogFd(logPath);
  } catch {
    return null;
  }
  if (fd === undefined) return undefined;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    const size = st.size;
    const index = readIndex(logPath);
    const hit = checked(fd, st, logPath, name, index[name]);
    if (hit) return hit;
    let found: Recorded | undefined;
    for (const line of linesBackward(fd, size)) {
      if (!line.terminated || !MARKERS.some((m) => line.bytes.includes(m))) continue;
      const row = parse(line.bytes);
      const got = row && NAMERS.map((n) => n(row)).find((d) => d?.name === name);
      if (row && got && Number.isSafeInteger(row.seq)) {
        found = { sha256: got.sha256, seq: row.seq as number, offset: line.offset, fields: row.fields ?? {} };
        break;
      }
    }
    if (found) {
      index[name] = { sha256: found.sha256, seq: found.seq, offset: found.offset };
      try { writeFileAtomic(indexPath(logPath), JSON.stringify(index)); } catch { /* only an index */ }
    }
    return found;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Called by the log under its lock for each row written at `offset`: keeps the index current. */
export function noteWritten(logPath: string, rows: Array<{ row: Parameters<Namer>[0] & { seq: number }; offset: number }>): void {
  let index: Index | undefined;
  for (const { row, offset } of rows) {
    for (const n of NAMERS) {
      const d = n(row);
      if (!d) continue;
      index ??= readIndex(logPath);
      index[d.name] = { sha256: d.sha256, seq: row.seq, offset };
    }
  }
  if (index) {
    try { writeFileAtomic(indexPath(logPath), JSON.stringify(index)); } catch { /* the log is the authority */ }
  }
}
