import { closeSync, constants, fstatSync, openSync, readSync, readlinkSync } from 'node:fs';
import { LsmError, errno, ioError } from '../errors.js';
import { toRow, type AuditRow } from './event.js';
import { linesBackward } from './tailstate.js';
import { MAX_DEPTH, MAX_ROW_BYTES, deeperThan, salvageRow, type Damage } from './damaged.js';

/**
 * Reading the log as a stream: memory stays bounded by the longest line whatever the
 * size of the file, and one bad line costs a warning, not the rest of the log.
 */

const CHUNK = 1024 * 1024;
/** Past this, the rest of a line is not kept (it can only be a damaged row). */
const MAX_LINE = 64 * 1024 * 1024;

export interface RawLine {
  /** 1-based line number. */
  no: number;
  /** Byte offset of the line in the file. */
  offset: number;
  /** The line without its "\n". It may be a view of a buffer that the next line overwrites: copy it to keep it. */
  bytes: Buffer;
  /** False for bytes after the file's last newline (a torn or in-progress write). */
  terminated: boolean;
}

/**
 * Opens a log for reading. lsm writes its log only as a regular file, never through a
 * link, so a reader takes nothing else for one: a FIFO planted in its place would block
 * every reader (and so the nightly `audit verify`) forever, a link to /dev/zero would
 * never end, and a link to another file would vouch for a log lsm never wrote.
 */
export function openLog(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    if (errno(err) === 'ENOENT') {
      throw new LsmError('not_found', `audit log not found at ${path}`, {
        hint: 'nothing has been recorded yet, or pass --file PATH / --dir DIR',
      });
    }
    if (errno(err) === 'ELOOP') {
      throw new LsmError('io', `cannot read ${path}: it is a symbolic link${linkTarget(path)}, and lsm writes its log only as a regular file`, {
        hint: 'someone replaced the log; pass the file itself with --file PATH to read it',
      });
    }
    throw ioError('read', path, err);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw ioError('read', path, { code: st.isDirectory() ? 'EISDIR' : 'ENOTREG' });
  }
  return fd;
}

function linkTarget(path: string): string {
  try {
    return ` (to ${JSON.stringify(readlinkSync(path))})`;
  } catch {
    return '';
  }
}

/** The lines of an open file from `start` (a line boundary) to the current end of file. */
export function* readLinesFd(fd: number, start = 0, firstLineNo = 1, onChunk?: (pos: number) => void): Generator<RawLine> {
  let pos = start;
  let no = firstLineNo;
  let pieces: Buffer[] = [];
  let lineStart = start;
  // One buffer for the whole walk: fresh ones per chunk would leave GC hundreds of MB to find.
  const buf = Buffer.allocUnsafe(CHUNK);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, CHUNK, pos);
    } catch (err) {
      throw ioError('read', 'the audit log', err);
    }
    if (n === 0) break;
    const chunkStart = pos;
    pos += n;
    let from = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, from);
      if (nl < 0 || nl >= n) break;
      let bytes = buf.subarray(from, nl);
      if (pieces.length > 0) {
        pieces.push(bytes);
        bytes = Buffer.concat(pieces);
        pieces = [];
      }
      yield { no: no++, offset: lineStart, bytes, terminated: true };
      from = nl + 1;
      lineStart = chunkStart + from;
    }
    if (from < n) capped(pieces, Buffer.from(buf.subarray(from, n)));
    onChunk?.(pos);
  }
  if (pieces.length > 0) yield { no, offset: lineStart, bytes: Buffer.concat(pieces), terminated: false };
}

/** Keeps a line's pieces to a bound: a line of gigabytes is read past, not held. */
function capped(pieces: Buffer[], next: Buffer): void {
  let total = 0;
  for (const p of pieces) total += p.length;
  if (total < MAX_LINE) pieces.push(next.subarray(0, MAX_LINE - total));
}

/** Every line of the file at `path`. */
export function* readLines(path: string, onChunk?: (pos: number, size: number) => void): Generator<RawLine> {
  const fd = openLog(path);
  try {
    const size = fstatSync(fd).size;
    yield* readLinesFd(fd, 0, 1, onChunk && ((pos) => onChunk(pos, size)));
  } finally {
    closeSync(fd);
  }
}

export function isBlankLine(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

export interface ParsedRow {
  no: number;
  /** The stored line, as written. */
  raw: string;
  row: AuditRow;
  /** Set when the line was not a whole row and what could be read of it is shown (damaged.ts). */
  damage?: Damage;
}

/** The row in a line, or undefined when the line is not one a reader can show. */
export function parseRow(bytes: Buffer): { raw: string; row: AuditRow } | undefined {
  if (bytes.length > MAX_ROW_BYTES) return undefined;
  const raw = bytes.toString('utf8').trim();
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
  const o = obj as Record<string, unknown>;
  if (!Number.isSafeInteger(o.seq) || typeof o.event !== 'string' || typeof o.ts !== 'string') return undefined;
  if (o.actor !== undefined && o.actor !== null && (typeof o.actor !== 'object' || Array.isArray(o.actor))) return undefined;
  // One row of the wrong shape (an ancestry that is not a list, a comm that is a number)
  // must be a skipped line, not a TypeError that stops the reader and hides the rest.
  if (!wellFormed(o)) return undefined;
  // Every reader re-encodes rows (text, JSON, redaction): a deep one would overflow the stack there.
  if (deeperThan(o, MAX_DEPTH)) return undefined;
  return { raw, row: toRow(o) };
}

/**
 * The row in a line for a reader that shows rows: a whole row, or what can be read of
 * a torn, too deep or too large one (marked), or undefined for a line of noise.
 */
export function readRow(bytes: Buffer): { raw: string; row: AuditRow; damage?: Damage } | undefined {
  const whole = parseRow(bytes);
  if (whole) return whole;
  let damage: Damage = 'torn';
  if (bytes.length > MAX_ROW_BYTES) damage = 'too_large';
  else {
    try {
      // Whole JSON of the wrong shape is not damage but a foreign line: skipped, as before.
      if (!deeperThan(JSON.parse(bytes.toString('utf8')), MAX_DEPTH)) return undefined;
      damage = 'too_deep';
    } catch { /* not JSON: cut short */ }
  }
  return salvageRow(bytes, damage);
}

const isStr = (v: unknown) => v === undefined || v === null || typeof v === 'string';
const isNum = (v: unknown) => v === undefined || v === null || typeof v === 'number';
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function wellFormed(o: Record<string, unknown>): boolean {
  if (!isStr(o.app) || !isStr(o.env) || !isStr(o.outcome) || !isStr(o.prev) || !isStr(o.hash)) return false;
  if (o.fields !== undefined && o.fields !== null && !isObj(o.fields)) return false;
  const a = o.actor;
  if (a === undefined || a === null) return true;
  if (!isObj(a)) return false;
  if (![a.ppid, a.uid, a.pid].every(isNum) || ![a.parent_comm, a.tty, a.cwd, a.agent_marker, a.agent_source, a.agent_session].every(isStr)) return false;
  if (a.agent_vars !== undefined && a.agent_vars !== null && !(Array.isArray(a.agent_vars) && a.agent_vars.every((v) => typeof v === 'string'))) return false;
  if (a.ancestry === undefined || a.ancestry === null) return true;
  return Array.isArray(a.ancestry) && a.ancestry.every((p) => isObj(p) && isNum(p.pid) && isStr(p.comm) && isStr(p.start));
}

/**
 * Reports skipped lines on stderr by file and line number, never by content (a line
 * may hold anything); after a few it only counts them, so a wrecked log stays readable.
 */
export class SkipReporter {
  private count = 0;
  constructor(
    private readonly file: string,
    private readonly stderr: { write(s: string): unknown },
    private readonly max = 20,
  ) {}

  skip(lineNo: number | string): void {
    this.count++;
    if (this.count <= this.max) this.stderr.write(`lsm: warning: ${this.file}:${lineNo}: skipped malformed line\n`);
  }

  /** A damaged line shown for what could be read of it. */
  damaged(lineNo: number | string, damage: Damage): void {
    this.count++;
    if (this.count <= this.max) this.stderr.write(`lsm: warning: ${this.file}:${lineNo}: damaged line (${damage.replace('_', ' ')}) shown for what could be read of it\n`);
  }

  finish(): void {
    if (this.count > this.max) {
      this.stderr.write(`lsm: warning: ${this.file}: ${this.count - this.max} more malformed lines skipped\n`);
    }
  }
}

/** The rows of the log in file order, skipping (and reporting) malformed and blank lines. */
export function* readRows(path: string, skipped: SkipReporter): Generator<ParsedRow> {
  for (const line of readLines(path)) {
    if (isBlankLine(line.bytes)) continue;
    const parsed = readRow(line.bytes);
    if (!parsed) {
      skipped.skip(line.no);
      continue;
    }
    if (parsed.damage) skipped.damaged(line.no, parsed.damage);
    yield { no: line.no, ...parsed };
  }
}

/** 1-based number of the line starting at `offset`: counted only when a warning needs it. */
export function lineNumberAt(fd: number, offset: number): number {
  let no = 1;
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = 0;
  while (pos < offset) {
    const n = readSync(fd, buf, 0, Math.min(CHUNK, offset - pos), pos);
    if (n === 0) break;
    let from = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, from);
      if (nl < 0 || nl >= n) break;
      no++;
      from = nl + 1;
    }
    pos += n;
  }
  return no;
}

/**
 * The last `n` rows, read backwards from the end: a tail of a huge log costs what the
 * tail costs. Returns them in file order, with the offset just past the end read.
 */
export function lastRows(
  path: string,
  n: number,
  skipped: SkipReporter,
  /** Only rows it accepts count towards `n` (tail's hiding of audit.* events). */
  keep?: (row: AuditRow) => boolean,
): { rows: ParsedRow[]; end: number; ino: number } {
  const fd = openLog(path);
  try {
    const st = fstatSync(fd);
    const rows: ParsedRow[] = [];
    const bad: number[] = [];
    const damaged: Array<[number, Damage]> = [];
    if (n > 0) {
      for (const line of linesBackward(fd, st.size)) {
        if (isBlankLine(line.bytes)) continue;
        const parsed = readRow(line.bytes);
        if (!parsed) {
          bad.push(line.offset);
          continue;
        }
        if (parsed.damage) damaged.push([line.offset, parsed.damage]);
        if (keep && !keep(parsed.row)) continue;
        rows.push({ no: 0, ...parsed });
        if (rows.length >= n) break;
      }
    }
    for (const offset of bad.reverse()) skipped.skip(lineNumberAt(fd, offset));
    for (const [offset, damage] of damaged.reverse()) skipped.damaged(lineNumberAt(fd, offset), damage);
    return { rows: rows.reverse(), end: st.size, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}
