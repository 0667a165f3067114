import { closeSync, fchmodSync, fstatSync, fsyncSync, openSync, writeSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import { LsmError, errno } from '../errors.js';
import { fsyncDir } from '../atomic.js';
import { withLock } from '../lock.js';
import { captureActor } from './actor.js';
import { hashRow, sha256Hex } from './chain.js';
import { SCHEMA, formatTs, type Actor, type AuditRow, type Outcome } from './event.js';
import { findChainEnd } from './tailstate.js';
import { openSealer, type Rekey } from './seal.js'; // forward-secure seals
import { custody } from '../custody.js';
import { lastRecorded, noteWritten } from './digests.js';
import { CONFIG_CHANGED_EVENT, NO_CONFIG, configDigest, loosenings, relevantSettings } from './config-digest.js';

/** What a command says about itself; the log adds seq, time, actor and chain. */
export interface EventInput {
  event: string;
  app?: string;
  env?: string;
  /** Defaults to `ok`. */
  outcome?: Outcome;
  /** Names, counts, basenames: never a secret value. */
  fields?: Record<string, unknown>;
  /** Never leaves the machine, whatever sink is configured. */
  localOnly?: boolean;
}

export interface AppendOptions {
  now?: () => Date;
  actor?: Actor;
  lockTimeoutMs?: number;
  /** `audit seal init` starts a new seal key with this row. */
  rekey?: Rekey;
  /**
   * The home's config.yaml: when its digest differs from the last one the log recorded,
   * a `config.changed` row goes first, so that every event is read under a known config.
   */
  configPath?: string;
}

/**
 * What the log must learn of config.yaml before this event: nothing when it is the
 * config last recorded; its digest on the event itself when the log never recorded one
 * (a new home, a log from before digests: a baseline, not a change, so seqs stay as
 * they were); else the fields of a `config.changed` row to go first.
 */
function configChange(logPath: string, configPath: string): { baseline: string } | { changed: Record<string, unknown> } | undefined {
  const digest = configDigest(configPath);
  const last = lastRecorded(logPath, 'config') ?? undefined;
  if (last ? last.sha256 === digest : digest === NO_CONFIG) return undefined;
  if (!last) return { baseline: digest };
  const settings = relevantSettings(configPath);
  const before = last.fields.settings;
  return {
    changed: {
      config_sha256: digest,
      previous_sha256: last.sha256,
      previous_seq: last.seq,
      settings: settings ?? null,
      // A baseline recorded no settings: the change is judged against lsm's defaults.
      loosened: loosenings(before && typeof before === 'object' ? (before as Record<string, string>) : {}, settings),
    },
  };
}

/** The event that records a torn last line instead of chaining onto it. */
export const REPAIR_EVENT = 'audit.repair';

// A JSON round trip gives the fields exactly the shape a reader will parse back, so
// the hash computed here is the hash a verifier recomputes.
function plainFields(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (fields === undefined) return undefined;
  const plain = JSON.parse(JSON.stringify(fields)) as unknown;
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) {
    throw new LsmError('internal', 'audit event fields must be an object');
  }
  return Object.keys(plain).length > 0 ? (plain as Record<string, unknown>) : undefined;
}

function makeRow(seq: number, prev: string, input: EventInput, ts: string, actor: Actor): AuditRow {
  const row: AuditRow = {
    schema_version: SCHEMA,
    seq,
    ts,
    event: input.event,
    outcome: input.outcome ?? 'ok',
    actor,
    prev,
    hash: '',
  };
  if (input.app) row.app = input.app;
  if (input.env) row.env = input.env;
  const fields = plainFields(input.fields);
  if (fields) row.fields = fields;
  if (input.localOnly) row.local_only = true;
  return row;
}

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/**
 * Appends one event to the log at `path` under its inter-process lock: reads only the
 * end of the file for the last seq and hash, writes the line with one write() on an
 * O_APPEND descriptor, fsyncs. A torn last line is not chained onto: an `audit.repair`
 * event naming it (length and SHA-256) goes first. The file is kept at mode 0600.
 * Throws LsmError ('io' or 'locked') when the event could not be made durable.
 */
export function appendEvent(path: string, input: EventInput, opts: AppendOptions = {}): AuditRow {
  if (!input.event) throw new LsmError('internal', 'audit event without a name');
  const actor = opts.actor ?? captureActor();
  return withLock(
    `${path}.lock`,
    () => {
      // Stamped under the lock, so that in file order time only goes forward (but for a
      // clock step) and verify can take a row stamped well back in time for what it is.
      const ts = formatTs((opts.now ?? (() => new Date()))());
      let fd: number;
      try {
        // Never through a link: one to a file of the caller's choosing would take the events there.
        fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      } catch (err) {
        throw appendError(path, err);
      }
      try {
        const st = fstatSync(fd);
        // A symlink to /dev/null would swallow every event while everything looks fine.
        if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREG' });
        if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
        const end = findChainEnd(fd, st.size);
        // seals each row; may first record a gap (rows cut off) or a lost key.
        const sealer = openSealer(path, fd, st.size, end, opts.rekey);
        const toLine = (r: AuditRow) => (sealer ? sealer.line(r) : hashRow(r));
        const lines: string[] = [];
        let { seq, hash } = end;
        if (sealer?.prelude) {
          const p = sealer.prelude;
          const first = makeRow(p.seq, hash, { event: p.event, fields: p.fields, localOnly: true }, ts, actor);
          lines.push(toLine(first));
          seq = first.seq;
          hash = first.hash;
        } else if (end.fragment) {
          const repair = makeRow(seq + 1, hash, {
            event: REPAIR_EVENT,
            fields: { fragment_bytes: end.fragment.length, fragment_sha256: sha256Hex(end.fragment) },
            localOnly: true,
          }, ts, actor);
          lines.push(toLine(repair));
          seq = repair.seq;
          hash = repair.hash;
        }
        const written: AuditRow[] = [];
        // The keeper's own check: does the file still extend what it last wrote?
        for (const p of custody()?.beforeAppend(path, fd, st.size) ?? []) {
          const r = makeRow(seq + 1, hash, { event: p.event, fields: p.fields, localOnly: true }, ts, actor);
          lines.push(toLine(r));
          seq = r.seq;
          hash = r.hash;
        }
        // Accesses are what a config governs: lsm's own bookkeeping (audit.*) waits for the next one.
        const governed = opts.configPath && input.event !== CONFIG_CHANGED_EVENT && !input.event.startsWith('audit.');
        const config = governed ? configChange(path, opts.configPath!) : undefined;
        if (config && 'changed' in config) {
          // In the keeper: whether the change is in force or waits for the passphrase.
          const c = makeRow(seq + 1, hash, { event: CONFIG_CHANGED_EVENT, fields: { ...config.changed, ...custody()?.configNote() } }, ts, actor);
          lines.push(toLine(c));
          written.push(c);
          seq = c.seq;
          hash = c.hash;
        }
        const own = config && 'baseline' in config ? { ...input, fields: { ...input.fields, config_sha256: config.baseline } } : input;
        const row = makeRow(seq + 1, hash, own, ts, actor);
        lines.push(toLine(row));
        written.push(row);
        const data = Buffer.from(`${end.endsWithNewline ? '' : '\n'}${lines.join('\n')}\n`, 'utf8');
        writeAll(fd, data);
        // The keeper's head moves with the bytes, durable or not yet: a row whose fsync then
        // fails is still the keeper's, not a foreign append at the next one.
        custody()?.appended(path, row.seq, lines[lines.length - 1], st.size + data.length);
        fsyncSync(fd);
        // The digest index names each recording row by its offset (digests.ts).
        let at = st.size + (end.endsWithNewline ? 0 : 1);
        const offsets = new Map<number, number>();
        for (const l of lines) {
          const m = /^\{"schema_version":\d+,"seq":(\d+),/.exec(l);
          if (m) offsets.set(Number(m[1]), at);
          at += Buffer.byteLength(l, 'utf8') + 1;
        }
        noteWritten(path, written.filter((r) => offsets.has(r.seq)).map((r) => ({ row: r, offset: offsets.get(r.seq)! })));
        if (st.size === 0) fsyncDir(dirname(path));
        sealer?.commit(row); // the key moves on only once the rows are durable
        return row;
      } catch (err) {
        throw appendError(path, err);
      } finally {
        closeSync(fd);
      }
    },
    { timeoutMs: opts.lockTimeoutMs },
  );
}

/** Why an append failed, in words a user can act on. */
export function appendFailure(err: unknown): string {
  if (err instanceof LsmError && err.code !== 'io') return err.message;
  const code = errno(err instanceof LsmError ? err.cause : err);
  switch (code) {
    case 'ENOENT': return 'the directory does not exist';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'ENOSPC': return 'no space left on device';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EFBIG': return 'file too large (a file size limit)';
    case 'EROFS': return 'read-only file system';
    case 'EISDIR': return 'it is a directory';
    case 'ENOTREG': return 'it is not a regular file';
    case 'ELOOP': return 'it is a symbolic link, and lsm writes its log only as a regular file';
    case 'EIO': return 'input/output error';
    default: return code ?? (err instanceof Error ? err.message : String(err));
  }
}

function appendError(path: string, err: unknown): LsmError {
  if (err instanceof LsmError) return err;
  return new LsmError('io', `cannot append to ${path}: ${appendFailure(err)}`, { cause: err });
}
