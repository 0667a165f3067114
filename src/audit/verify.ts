import { closeSync, fstatSync } from 'node:fs';
import { GENESIS, HASH_RE, computeHash, sha256Hex } from './chain.js';
import { shapeProblem, toRow } from './event.js';
import { REPAIR_EVENT } from './log.js';
import { isBlankLine, openLog, readLinesFd } from './reader.js';
import { SEAL_GAP_EVENT, isRecordedGap, namesTornLine } from './seal.js';
import { TS_TOLERANCE_MS, TimeOrderJudge } from './tamper-detectors.js';

/**
 * `audit verify`: walks the chain from genesis, streaming, and names each problem with
 * its seq and line. Rows lsm wrote are canonical, so the hash is first checked over the
 * raw bytes (blanking the hash, dropping a trailing seal); only when that fails is the
 * row re-encoded the way Go would, which still accepts a hand-reformatted row of the
 * original whose meaning is intact, as the original's verifier does.
 */

export type ProblemKind =
  | 'malformed'
  | 'schema'
  | 'seq_gap'
  | 'seq_duplicate'
  | 'prev_mismatch'
  | 'missing_hash'
  | 'hash_mismatch'
  | 'repair_mismatch'
  | 'rewound'
  | 'ts_backwards';

export type NoteKind = 'repaired_tail' | 'torn_tail' | 'loose_mode' | 'seal_gap'; // seal_gap

export interface Finding<K extends string> {
  kind: K;
  /** The row's seq, 0 when the line has none. */
  seq: number;
  line: number;
  message: string;
}

export interface VerifyReport {
  file: string;
  /** False when the file does not exist. */
  exists: boolean;
  /** Rows read (valid or not). */
  events: number;
  lastSeq: number;
  lastHash: string;
  problems: Finding<ProblemKind>[];
  /** Not tampering, but worth knowing: a repaired or unrepaired torn write, a loose file mode. */
  notes: Finding<NoteKind>[];
  /** Rows per schema_version. */
  schemas: Record<string, number>;
}

export interface VerifyOptions {
  /** Go on after the first problem and report every one. */
  all?: boolean;
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /** Sees every parsed row after its chain check (seals, anchors). */
  onRow?: (obj: Record<string, unknown>, seq: number, hash: string, line: number) => void;
}

const HASH_KEY = Buffer.from('"hash":"');
const CLOSE = Buffer.from('"}');
const TRAILER = /^"(,"seal":"[A-Za-z0-9+/=_:.-]*")?\}[ \t\r]*$/;

/** The hash over the raw line, valid when the line is canonical (as lsm writes it). */
function rawHash(prev: string, line: Buffer): string | undefined {
  const at = line.lastIndexOf(HASH_KEY);
  if (at < 0) return undefined;
  const cut = at + HASH_KEY.length;
  // The hash must be the last field but a seal: bytes after it would be read by every
  // reader yet covered by no hash.
  if (!TRAILER.test(line.toString('latin1', cut + 64))) return undefined;
  return sha256Hex(Buffer.concat([Buffer.from(prev, 'latin1'), line.subarray(0, cut), CLOSE]));
}

function slowHashOk(obj: Record<string, unknown>, hash: string): string | undefined {
  const shape = shapeProblem(obj);
  if (shape) return `hash mismatch: row tampered (${shape})`;
  const row = toRow(obj);
  try {
    if (computeHash(row) === hash || computeHash(row, { legacyControl: true }) === hash) return undefined;
  } catch {
    return 'hash mismatch: row tampered (a value cannot be encoded)';
  }
  return 'hash mismatch: row tampered';
}

interface Pending {
  line: number;
  bytes: number;
  sha256: string;
}

export function verifyLog(path: string, opts: VerifyOptions = {}): VerifyReport {
  const report: VerifyReport = {
    file: path, exists: true, events: 0, lastSeq: 0, lastHash: GENESIS, problems: [], notes: [], schemas: {},
  };
  let fd: number;
  try {
    fd = openLog(path);
  } catch (err) {
    if ((err as { code?: string }).code === 'not_found') return { ...report, exists: false };
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      report.notes.push({ kind: 'loose_mode', seq: 0, line: 0, message: `file mode ${mode} lets other users read the log; lsm sets 0600 on its next append` });
    }
    walk(fd, st.size, report, opts);
  } finally {
    closeSync(fd);
  }
  return report;
}

function walk(fd: number, size: number, report: VerifyReport, opts: VerifyOptions): void {
  let expect = 1;
  // undefined after a row without a readable hash: the next row's prev is taken on trust.
  let last: string | undefined = GENESIS;
  let pending: Pending | undefined;
  // lsm stamps rows under the log's lock: a row stamped well before one above it was not written then.
  const time = new TimeOrderJudge();
  let latestTs = '';
  const problem = (kind: ProblemKind, seq: number, line: number, message: string) =>
    report.problems.push({ kind, seq, line, message });
  const stop = () => !opts.all && report.problems.length > 0;
  const rewinds = rewindWatch();
  const flushPending = () => {
    if (pending) problem('malformed', 0, pending.line, 'malformed JSON');
    pending = undefined;
  };

  for (const line of readLinesFd(fd, 0, 1, opts.onProgress && ((pos) => opts.onProgress!(pos, size)))) {
    if (isBlankLine(line.bytes)) continue;
    let obj: Record<string, unknown> | undefined;
    try {
      const parsed = JSON.parse(line.bytes.toString('utf8')) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) obj = parsed as Record<string, unknown>;
    } catch { /* malformed */ }
    // A last line with no newline is a torn write unless it is whole (then only its newline is missing).
    if (!line.terminated && !obj) {
      flushPending();
      report.notes.push({
        kind: 'torn_tail', seq: 0, line: line.no,
        message: `torn last line (${line.bytes.length} bytes, no newline): a write was cut short; the next append records an ${REPAIR_EVENT} event`,
      });
      break;
    }
    if (!obj) {
      flushPending();
      if (stop()) return;
      pending = { line: line.no, bytes: line.bytes.length, sha256: sha256Hex(line.bytes) };
      continue;
    }
    report.events++;
    const seqOk = Number.isSafeInteger(obj.seq);
    const seq = seqOk ? (obj.seq as number) : 0;
    const hash = typeof obj.hash === 'string' ? obj.hash : '';
    const version = obj.schema_version;
    report.schemas[String(version)] = (report.schemas[String(version)] ?? 0) + 1;

    // a seq jump to the seal key's index, recorded as such, is a gap (reported), not a break.
    const gap = seqOk && seq > expect && isRecordedGap(obj, expect);
    const why = checkRow(obj, line.bytes, seq, seqOk, gap ? seq : expect, last, hash);
    if (gap && !why) {
      report.notes.push({
        kind: 'seal_gap', seq, line: line.no,
        message: `rows ${expect}..${seq - 1} are missing: the log ended at seq ${expect - 1} though the seal key file counted ${seq - 1} rows; recorded by ${SEAL_GAP_EVENT} at seq ${seq}`,
      });
    }
    if (pending) {
      const names = obj.event === REPAIR_EVENT || namesTornLine(obj.event); // a gap or lost-key row may name it
      const f = names ? (obj.fields as Record<string, unknown> | undefined) : undefined;
      if (f && f.fragment_bytes === pending.bytes && f.fragment_sha256 === pending.sha256 && !why) {
        report.notes.push({
          kind: 'repaired_tail', seq, line: pending.line,
          message: `torn line (${pending.bytes} bytes) left by an interrupted write, repaired by seq ${seq} (${REPAIR_EVENT})`,
        });
        pending = undefined;
      } else {
        flushPending();
      }
    } else if (obj.event === REPAIR_EVENT && !why) {
      problem('repair_mismatch', seq, line.no, `${REPAIR_EVENT} names a torn line that is not before it`);
    }
    if (why) problem(why.kind, seq, line.no, why.message);
    else if (typeof obj.ts === 'string') {
      const ms = Date.parse(obj.ts);
      const before = time.latestSeq;
      if (time.feed(ms, seq) !== undefined) {
        problem('ts_backwards', seq, line.no, `time goes backwards: seq ${seq} is stamped ${obj.ts}, ${ago(time.latest - ms)} before seq ${before} (${latestTs}) above it (more than the ${TS_TOLERANCE_MS / 1000} s a clock step explains)`);
      } else if (time.latestSeq === seq) latestTs = obj.ts;
    }
    // Resynchronise on what the row says, so one bad row is reported once, not forever.
    if (seqOk) expect = seq + 1;
    last = HASH_RE.test(hash) ? hash : undefined;
    if (seqOk && HASH_RE.test(hash)) {
      report.lastSeq = seq;
      report.lastHash = hash;
    }
    rewinds.see(obj, seq, line.no);
    opts.onRow?.(obj, seq, hash, line.no);
    if (stop()) return;
  }
  flushPending();
  for (const r of rewinds.open()) problem('rewound', r.seq, r.line, r.message);
}

/**
 * The keeper's record that the log was put back to an earlier state while it ran (a
 * copy restored after a read, a cut, an edit): the chain of the restored file may be
 * intact, so this row is what shows it, and it fails verify until the user, with the
 * passphrase, acknowledges it (`lsm unlock --acknowledge`).
 */
function rewindWatch() {
  const open: Array<{ seq: number; line: number; message: string }> = [];
  return {
    see(obj: Record<string, unknown>, seq: number, line: number) {
      const f = obj.fields as Record<string, unknown> | undefined;
      if (obj.event === 'audit.rewound') {
        open.push({ seq, line, message: `the keeper found the log rewound: it had written up to seq ${String(f?.expected_seq)} (${String(f?.expected_size)} bytes), the file then held ${String(f?.found_size)} bytes; rows were removed or the file restored ('lsm unlock --acknowledge' once you have looked)` });
      } else if (obj.event === 'audit.acknowledged' && typeof f?.through_seq === 'number') {
        const through = f.through_seq;
        for (let i = open.length - 1; i >= 0; i--) if (open[i].seq <= through) open.splice(i, 1);
      }
    },
    open: () => open,
  };
}

function checkRow(
  obj: Record<string, unknown>, bytes: Buffer, seq: number, seqOk: boolean, expect: number, last: string | undefined, hash: string,
): { kind: ProblemKind; message: string } | undefined {
  const v = obj.schema_version;
  if (v !== 1 && v !== 2) return { kind: 'schema', message: `unsupported schema_version: ${JSON.stringify(v) ?? 'none'}` };
  if (!seqOk || seq < 1) return { kind: 'malformed', message: 'malformed row: seq is not a positive integer' };
  if (seq > expect) return { kind: 'seq_gap', message: `seq gap: expected ${expect}, got ${seq}` };
  if (seq < expect) return { kind: 'seq_duplicate', message: `seq duplicate or out of order: expected ${expect}, got ${seq}` };
  if (last !== undefined && obj.prev !== last) return { kind: 'prev_mismatch', message: 'prev mismatch: chain broken' };
  if (typeof obj.prev !== 'string' || !HASH_RE.test(obj.prev)) return { kind: 'prev_mismatch', message: 'prev is not a hash' };
  if (!HASH_RE.test(hash)) return { kind: 'missing_hash', message: hash ? 'malformed hash' : 'missing hash' };
  if (rawHash(obj.prev, bytes) === hash) return undefined;
  const slow = slowHashOk(obj, hash);
  return slow ? { kind: 'hash_mismatch', message: slow } : undefined;
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}
