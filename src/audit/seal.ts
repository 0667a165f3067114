import * as crypto from 'node:crypto';
import { custody } from '../custody.js';
import { closeSync, constants, fchmodSync, fdatasyncSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { LsmError, errno, usage } from '../errors.js';
import { readRegular, writeFileAtomic } from '../atomic.js';
import { hashRow, sha256Hex } from './chain.js';
import type { AuditRow } from './event.js';
import { linesBackward, type ChainEnd } from './tailstate.js';

/**
 * Forward-secure row seals (docs/tamper-evidence.md). `seal init` turns a random seed
 * into a root key R, prints R once as the verification key and keeps on disk only the
 * key of the next row. Each appended row is sealed with the key of its own seq, then the
 * key is evolved one way and the old one overwritten: whoever reads the key file later
 * can seal future rows but cannot forge one written before.
 *
 * Keys are 64 lowercase hex characters and every hash input is ASCII, so the writer and
 * the verifier hash the same bytes whatever form they hold a key in.
 *   R        = HMAC-SHA256(seed, "lsm seal v1 root")             (the seed is then dropped)
 *   key id   = first 16 hex of SHA-256("lsm seal v1 id:" R)
 *   K_I      = R, I being the seq of the audit.seal.init row; K_{i+1} = SHA-256("lsm seal v1 evolve:" K_i)
 *   seal_i   = key id ":" first 32 hex of SHA-256(K_i ":lsm seal v1:" seq ":" hash)
 */

export const SEAL_INIT_EVENT = 'audit.seal.init';
/** The log ended before the key file's index: rows were cut off. Its seq is the index, so the jump stays visible. */
export const SEAL_GAP_EVENT = 'audit.seal.gap';
/** The log is sealed but the key file is gone: the rows after it cannot be sealed. */
export const SEAL_LOST_EVENT = 'audit.seal.lost';

export const KEY_ID_RE = /^[0-9a-f]{16}$/;
export const SEAL_RE = /^([0-9a-f]{16}):([0-9a-f]{32})$/;
const KEY_RE = /^[0-9a-f]{64}$/;
/** Past this many steps the key file is not caught up: a seq that far ahead is a forged row, not a crash. */
const MAX_CATCH_UP = 1 << 24;

const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;
const sha = oneShot ? (s: string) => oneShot('sha256', s, 'hex') : (s: string) => sha256Hex(s);

export function rootFromSeed(seed: Buffer): string {
  return crypto.createHmac('sha256', seed).update('lsm seal v1 root').digest('hex');
}

export function keyIdOf(root: string): string {
  return sha(`lsm seal v1 id:${root}`).slice(0, 16);
}

export function evolve(key: string): string {
  return sha(`lsm seal v1 evolve:${key}`);
}

// Secret-prefix SHA-256, not HMAC: each key seals one row and the verifier rebuilds the
// message itself in a fixed ASCII layout, so a length extension (which appends padding
// bytes) yields nothing it would accept; HMAC would double the cost of verifying.
export function macOf(key: string, seq: number, hash: string): string {
  return sha(`${key}:lsm seal v1:${seq}:${hash}`).slice(0, 32);
}

export function sealOf(keyId: string, key: string, seq: number, hash: string): string {
  return `${keyId}:${macOf(key, seq, hash)}`;
}

// ---- The verification key: typed or read back by a person, so short and checksummed.

const B32 = '0123456789abcdefghjkmnpqrstvwxyz';

function base32(bytes: Buffer): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return bits > 0 ? out + B32[(acc << (5 - bits)) & 31] : out;
}

function checksum(initSeq: number, root: string): string {
  return base32(Buffer.from(sha(`lsm seal v1 check:${initSeq}:${root}`), 'hex')).slice(0, 4);
}

export interface VerificationKey {
  /** Seq of the audit.seal.init row; rows from initSeq + 1 are sealed. */
  initSeq: number;
  root: string;
  keyId: string;
}

/** `lsmvk1-<init seq>-` then 56 Crockford base32 characters in groups of 8: the root and a checksum. */
export function formatVerificationKey(initSeq: number, root: string): string {
  const body = base32(Buffer.from(root, 'hex')) + checksum(initSeq, root);
  return `lsmvk1-${initSeq}-${body.match(/.{8}/g)!.join('-')}`;
}

export function parseVerificationKey(text: string): VerificationKey {
  const s = text.replace(/\s+/g, '').toLowerCase();
  const m = /^lsmvk1-(\d{1,15})-([0-9a-z-]+)$/.exec(s);
  const bad = (why: string) => usage(`not a verification key: ${why}`, 'it looks like lsmvk1-<seq>-xxxxxxxx-…, as `lsm audit seal init` printed it');
  if (!m) throw bad('it does not start with lsmvk1-<seq>-');
  // Crockford: I and L read as 1, O as 0.
  const body = m[2].replace(/-/g, '').replace(/[il]/g, '1').replace(/o/g, '0');
  if (body.length !== 56 || /[^0-9a-z]/.test(body) || /u/.test(body)) throw bad('it should hold 56 characters after the seq');
  let acc = 0n;
  for (const c of body.slice(0, 52)) acc = (acc << 5n) | BigInt(B32.indexOf(c));
  if ((acc & 15n) !== 0n) throw bad('a character is mistyped');
  const root = (acc >> 4n).toString(16).padStart(64, '0');
  const initSeq = Number(m[1]);
  if (initSeq < 1 || checksum(initSeq, root) !== body.slice(52)) throw bad('the checksum does not match (a character or the seq is mistyped)');
  return { initSeq, root, keyId: keyIdOf(root) };
}

// ---- The key file: the only sealing state on disk.

export interface KeyFile {
  keyId: string;
  /** The seq the key seals; also the witness of how many rows were written. */
  nextSeq: number;
  key: string;
}

/** `<log without .jsonl>.seal`: `<home>/audit.seal` for the home's log. */
export function sealKeyPath(logPath: string): string {
  return `${logPath.replace(/\.jsonl$/, '')}.seal`;
}

/** The key file, undefined when there is none; throws a plain Error when it is unreadable or garbled. */
export function readKeyFile(path: string): KeyFile | undefined {
  let text: string;
  try {
    // Not a plain read: a FIFO planted here would block every append for ever.
    text = readRegular(path).toString('utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
  const o = JSON.parse(text) as Record<string, unknown>;
  const { version, key_id: keyId, next_seq: nextSeq, key, check } = o ?? {};
  if (version !== 1 || typeof keyId !== 'string' || !KEY_ID_RE.test(keyId) || !Number.isSafeInteger(nextSeq) ||
      (nextSeq as number) < 1 || typeof key !== 'string' || !KEY_RE.test(key)) {
    throw new Error('not a seal key file');
  }
  const k = { keyId, nextSeq: nextSeq as number, key };
  if (check !== checkOf(k)) throw new Error('the seal key file fails its checksum (a torn write?)');
  return k;
}

function checkOf(k: KeyFile): string {
  return sha(`${k.keyId}:${k.nextSeq}:${k.key}`).slice(0, 16);
}

/** Every version of the file has this length, so the next one can overwrite it in place. */
const RECORD = 192;

function keyRecord(k: KeyFile): Buffer {
  const json = JSON.stringify({ version: 1, key_id: k.keyId, next_seq: k.nextSeq, key: k.key, check: checkOf(k) });
  return Buffer.from(`${json}${' '.repeat(RECORD - 1 - json.length)}\n`, 'latin1');
}

/**
 * Overwrites the key in place (one write and one fdatasync, on the same blocks where the
 * file system allows it); a file of another length, or none, is replaced atomically.
 */
export function writeKeyFile(path: string, k: KeyFile, opts: { replace?: boolean } = {}): void {
  const data = keyRecord(k);
  if (!opts.replace) {
    let fd = -1;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
      const st = fstatSync(fd);
      if (st.isFile() && st.size === RECORD) {
        if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
        if (writeSync(fd, data, 0, RECORD, 0) === RECORD) {
          fdatasyncSync(fd);
          return;
        }
      }
    } catch { /* replaced below */ } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  writeFileAtomic(path, data);
}

// ---- The writer's side, called by appendEvent under the audit lock.

export interface Rekey {
  /** The new root: the init row is sealed by the old key (if any), rows after it by this one. */
  root: string;
}

export interface Sealer {
  /** A row to write first, at this seq: a gap or a lost key. It names a torn line, if any, in place of audit.repair. */
  prelude?: { seq: number; event: string; fields: Record<string, unknown> };
  /** The row's line: hashed, and sealed when there is a key. */
  line(row: AuditRow): string;
  /** After the rows are durable: the key file moves on to the next key. */
  commit(last: AuditRow): void;
}

function fragmentFields(end: ChainEnd): Record<string, unknown> {
  return end.fragment ? { fragment_bytes: end.fragment.length, fragment_sha256: sha256Hex(end.fragment) } : {};
}

/** Whether the row the chain ends on carries a seal; read from the last few KiB. */
function endIsSealed(fd: number, size: number, end: ChainEnd): boolean {
  if (end.seq === 0) return false;
  const n = Math.min(size, 4096);
  const buf = Buffer.allocUnsafe(n);
  const got = readSync(fd, buf, 0, n, size - n);
  const tail = buf.toString('latin1', 0, got);
  const at = tail.lastIndexOf(`"hash":"${end.hash}"`);
  if (at >= 0) return tail.startsWith(',"seal":"', at + 73);
  // A long last line, or a hand-formatted one: parse it.
  for (const line of linesBackward(fd, size)) {
    try {
      const o = JSON.parse(line.bytes.toString('utf8')) as { seq?: unknown; seal?: unknown };
      if (o.seq === end.seq) return typeof o.seal === 'string';
    } catch { /* a torn or junk line */ }
  }
  return false;
}

/**
 * What sealing adds to one append. Undefined for a log that was never sealed (one failed
 * open). The key file is written only after the rows are fsynced, so a crash leaves it
 * behind the log, never ahead: behind, it is caught up here; ahead, the log lost rows
 * and a gap row at the key's index records it.
 */
export function openSealer(logPath: string, fd: number, size: number, end: ChainEnd, rekey?: Rekey): Sealer | undefined {
  const path = sealKeyPath(logPath);
  // In the keeper the key lives in its memory (checkpointed encrypted), never in audit.seal.
  const held = custody()?.sealKey;
  const store = held ?? { read: () => readKeyFile(path), write: (k: KeyFile, o?: { replace?: boolean }) => writeKeyFile(path, k, o) };
  let kf: KeyFile | undefined;
  let unreadable = false;
  try {
    kf = store.read();
  } catch {
    unreadable = true;
  }
  const commitRekey = (last: AuditRow) => {
    if (!rekey) return;
    try {
      store.write({ keyId: keyIdOf(rekey.root), nextSeq: last.seq + 1, key: evolve(rekey.root) }, { replace: true });
    } catch (err) {
      throw new LsmError('io', `cannot write the seal key file ${path}: ${errno(err) ?? String(err)}; sealing did not start`, { cause: err });
    }
  };
  if (!kf) {
    const lost = endIsSealed(fd, size, end);
    if (!lost && !rekey) return undefined;
    return {
      prelude: lost
        ? { seq: end.seq + 1, event: SEAL_LOST_EVENT, fields: { last_sealed_seq: end.seq, reason: unreadable ? 'unreadable' : 'missing', ...fragmentFields(end) } }
        : undefined,
      line: hashRow,
      commit: commitRekey,
    };
  }
  const { keyId } = kf;
  let index = kf.nextSeq;
  let key = kf.key;
  const first = end.seq + 1;
  let prelude: Sealer['prelude'];
  if (index > first) {
    prelude = { seq: index, event: SEAL_GAP_EVENT, fields: { expected_seq: index, found_last_seq: end.seq, ...fragmentFields(end) } };
  } else if (first - index > MAX_CATCH_UP) {
    throw new LsmError('audit', `the audit log reaches seq ${end.seq}, far past the seal key's index ${index}: a row with a forged seq?`, {
      hint: "run 'lsm audit verify'; 'lsm audit seal init --force' starts a new key",
    });
  }
  return {
    prelude,
    line(row) {
      // Seqs only grow within one append: the key walks forward to the row's own seq.
      while (index < row.seq) {
        key = evolve(key);
        index++;
      }
      const text = hashRow(row);
      row.seal = sealOf(keyId, key, row.seq, row.hash);
      return `${text.slice(0, -1)},"seal":"${row.seal}"}`;
    },
    commit(last) {
      if (rekey) return commitRekey(last);
      while (index <= last.seq) {
        key = evolve(key);
        index++;
      }
      // The rows are durable already; a key file left behind is caught up by the next append.
      try { store.write({ keyId, nextSeq: index, key }); } catch { /* see above */ }
    },
  };
}

/** A row that jumps the seq to the key file's index, naming the rows the log lost (verify checks it). */
export function isRecordedGap(obj: Record<string, unknown>, expect: number): boolean {
  if (obj.event !== SEAL_GAP_EVENT) return false;
  const f = obj.fields as Record<string, unknown> | undefined;
  return !!f && f.expected_seq === obj.seq && f.found_last_seq === expect - 1;
}

/** Rows that may stand in for audit.repair, naming the torn line before them. */
export function namesTornLine(event: unknown): boolean {
  return event === SEAL_GAP_EVENT || event === SEAL_LOST_EVENT;
}
