import { closeSync, openSync } from 'node:fs';
import { LsmError, errno, ioError } from '../errors.js';
import { VERSION } from '../version.js';
import type { Context } from '../context.js';
import type { AuditRow } from './event.js';
import { encodeJson, encodeProtobuf, post, readResponse, SCOPE, type PartialSuccess } from './otlp.js';
import { isShippable, projectCheckpoint, projectEvent, type AttrValue, type LogRecordData } from './redact.js';
import { loadSalt } from './salt.js';
import { readCursor, readState, writeCursor, writeState, type Cursor, type ShipState } from './cursor.js';
import { linesBackward } from './tailstate.js';
import { GENESIS } from './chain.js';
import { isBlankLine, openLog, parseRow, readLinesFd } from './reader.js';
import { record } from './record.js';
import type { ShipConfig } from './otlp-config.js';

/**
 * `lsm audit ship`: sends every shippable row after the cursor, in batches that each
 * end with a checkpoint (the chain head they reach), and moves the cursor only when
 * the collector has taken a batch, or has refused it for good (then a local-only
 * `audit.sink.dropped` event keeps the loss on record). Delivery is at least once.
 */

/** Statuses worth another try in this run (OTLP/HTTP spec), after Retry-After or a backoff. */
const RETRYABLE = new Set([429, 502, 503, 504]);
/**
 * 4xx answers that say nothing against the batch itself: credentials (an expired token),
 * a proxy's demands, a size limit (lower batch_size). Dropping on them would lose the
 * mirror of everything sent meanwhile; they stay pending instead, like a 5xx.
 */
const KEEP = new Map([[401, 'check otlp.headers'], [403, 'check otlp.headers'], [407, 'a proxy wants credentials'], [408, ''], [413, 'lower otlp.batch_size']]);
export const MAX_RETRY_AFTER_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

export interface ShipOptions {
  /** End with a checkpoint even when nothing is pending, so silence itself is visible. */
  heartbeat?: boolean;
  signal?: AbortSignal;
  /** Progress for a person watching; the background shipper passes nothing. */
  progress?: (line: string) => void;
}

export interface ShipResult {
  events: number;
  batches: number;
  dropped: number;
  /** Why delivery stopped with rows still pending; the cursor is where it was. */
  error?: string;
  /** Byte offset after the last line read, to tell whether more has arrived since. */
  end: number;
}

type Delivery =
  | { kind: 'ok'; partial?: PartialSuccess }
  | { kind: 'dropped'; status: number }
  | { kind: 'failed'; error: string };

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Retry-After in seconds or as an HTTP date, capped; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

function backoffMs(attempt: number): number {
  const ceiling = Math.min(1000 * 2 ** attempt, MAX_BACKOFF_MS);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

async function deliver(cfg: ShipConfig, body: Buffer | string, signal?: AbortSignal): Promise<Delivery> {
  const contentType = cfg.protocol === 'http/protobuf' ? 'application/x-protobuf' : 'application/json';
  const headers = { ...cfg.headers, 'Content-Type': contentType, 'User-Agent': `lsm/${VERSION}` };
  let error = '';
  for (let attempt = 0; ; attempt++) {
    const r = await post(cfg.endpoint, body, headers, cfg.timeoutMs, signal);
    let wait: number | undefined;
    if (!r.ok) {
      error = r.error;
    } else if (r.status >= 200 && r.status < 300) {
      const partial = readResponse(r.body, r.contentType);
      // A 2xx that is not an OTLP answer (a proxy's page, a wrong URL) proves nothing was taken.
      if (partial === undefined) return { kind: 'failed', error: `HTTP ${r.status} with a body that is not an OTLP response` };
      return partial ? { kind: 'ok', partial } : { kind: 'ok' };
    } else if (RETRYABLE.has(r.status)) {
      error = `HTTP ${r.status}`;
      wait = retryAfterMs(r.retryAfter, Date.now());
    } else if (KEEP.has(r.status)) {
      const why = KEEP.get(r.status);
      return { kind: 'failed', error: `HTTP ${r.status}${why ? ` (${why})` : ''}` };
    } else if (r.status >= 400 && r.status < 500) {
      return { kind: 'dropped', status: r.status };
    } else {
      // Other 5xx and redirects: the spec says do not retry; the rows stay pending for the next run.
      return { kind: 'failed', error: `HTTP ${r.status}` };
    }
    if (attempt >= cfg.maxRetries || signal?.aborted) return { kind: 'failed', error: `${error} (after ${attempt + 1} attempts)` };
    await sleep(wait ?? backoffMs(attempt), signal);
  }
}

interface Start {
  offset: number;
  afterSeq: number;
  head: string;
  mismatch?: string;
}

/** The complete line that ends just before `offset`, parsed. */
function rowEndingAt(fd: number, offset: number): AuditRow | undefined {
  for (const line of linesBackward(fd, offset - 1)) return parseRow(line.bytes)?.row;
  return undefined;
}

/**
 * Where to resume. The cursor's offset is trusted only when the row there is still the
 * one that was acknowledged; otherwise the log is scanned for the cursor's seq. When the
 * log no longer holds that row (rewritten, or truncated below it), nothing in it can be
 * known to have been sent, so the whole log is sent again: receivers that keep the
 * first copy of a (host, seq) keep what was shipped before, and the new checkpoint
 * shows the new chain head beside the old one.
 */
function startPoint(fd: number, cursor: Cursor | undefined): Start {
  const fromTop: Start = { offset: 0, afterSeq: 0, head: GENESIS };
  if (!cursor || cursor.seq === 0) return fromTop;
  const row = cursor.offset > 0 ? rowEndingAt(fd, cursor.offset) : undefined;
  if (row && row.seq === cursor.seq && row.hash === cursor.hash) return { offset: cursor.offset, afterSeq: cursor.seq, head: cursor.hash };
  let last = 0;
  for (const line of readLinesFd(fd, 0)) {
    if (!line.terminated) break;
    const r = parseRow(line.bytes)?.row;
    if (!r) continue;
    if (r.seq === cursor.seq) {
      if (r.hash === cursor.hash) return { offset: line.offset + line.bytes.length + 1, afterSeq: cursor.seq, head: r.hash };
      return { ...fromTop, mismatch: `the row at seq ${cursor.seq} is not the one that was shipped (the log was rewritten); sending the whole log again` };
    }
    last = Math.max(last, r.seq);
  }
  return {
    ...fromTop,
    mismatch: last < cursor.seq
      ? `the log ends at seq ${last}, before the shipped seq ${cursor.seq} (truncated or replaced); sending the whole log again`
      : `the log has no row with the shipped seq ${cursor.seq}; sending the whole log again`,
  };
}

function openLogFd(path: string): number | undefined {
  try {
    return openLog(path);
  } catch (err) {
    if (err instanceof LsmError && err.code === 'not_found') return undefined;
    throw err;
  }
}

export function resourceOf(cfg: ShipConfig): Array<[string, AttrValue]> {
  // The host is lsm's to say: receivers deduplicate by (host, seq), so
  // config.yaml's otlp.resource may add attributes but not move an event to another host.
  // service.instance.id is one of Loki's default index labels: one stream per machine.
  const attrs: Record<string, string> = {
    ...cfg.resource,
    'service.version': VERSION,
    'service.instance.id': cfg.hostName,
    'host.name': cfg.hostName,
  };
  return Object.entries(attrs);
}

export function encodeBatch(cfg: ShipConfig, records: LogRecordData[]): Buffer | string {
  const req = { resource: resourceOf(cfg), scope: SCOPE, records };
  return cfg.protocol === 'http/protobuf' ? encodeProtobuf(req) : encodeJson(req);
}

const iso = (ctx: Context) => ctx.now().toISOString();

/** One pass over what is pending. The caller holds the ship lock. */
export async function shipPending(ctx: Context, cfg: ShipConfig, opts: ShipOptions = {}): Promise<ShipResult> {
  const salt = loadSalt(ctx.home);
  const state: ShipState = readState(ctx.home);
  state.lastAttempt = iso(ctx);
  const result: ShipResult = { events: 0, batches: 0, dropped: 0, end: 0 };
  const fd = openLogFd(ctx.home.audit);
  try {
    const cursor = readCursor(ctx.home);
    const start: Start = fd === undefined
      ? { offset: 0, afterSeq: cursor?.seq ?? 0, head: cursor?.hash ?? GENESIS }
      : startPoint(fd, cursor);
    if (start.mismatch) {
      state.cursorMismatch = { at: iso(ctx), seq: cursor?.seq ?? 0, reason: start.mismatch };
      opts.progress?.(`warning: ${start.mismatch}`);
      writeCursor(ctx.home, { seq: start.afterSeq, hash: start.head, offset: start.offset });
      await record(ctx, { event: 'audit.sink.cursor_mismatch', fields: { cursor_seq: cursor?.seq ?? 0 }, localOnly: true }, { failClosed: false });
    }
    let covered = { seq: start.afterSeq, head: start.head, end: start.offset };
    result.end = start.offset;
    let batch: AuditRow[] = [];
    let first = start.afterSeq + 1;

    const flush = async (heartbeat: boolean): Promise<boolean> => {
      const records = batch.map((row) => projectEvent(row, salt, ctx.now()));
      records.push(projectCheckpoint({ seqFrom: first, seq: covered.seq, head: covered.head, shipped: batch.length, heartbeat }, ctx.now()));
      const outcome = await deliver(cfg, encodeBatch(cfg, records), opts.signal);
      const range = { seqFrom: first, seqTo: covered.seq };
      if (outcome.kind === 'failed') {
        state.lastError = { at: iso(ctx), message: outcome.error };
        result.error = outcome.error;
        return false;
      }
      if (outcome.kind === 'dropped') {
        state.lastDropped = { at: iso(ctx), status: outcome.status, count: batch.length, ...range };
        result.dropped += batch.length;
        await record(ctx, {
          event: 'audit.sink.dropped',
          fields: { count: batch.length, seq_from: first, seq_to: covered.seq, status: outcome.status },
          localOnly: true,
        }, { failClosed: false });
        opts.progress?.(`dropped ${batch.length} events (seq ${first}-${covered.seq}): the collector refused them with HTTP ${outcome.status}`);
      } else {
        result.events += batch.length;
        if (outcome.partial) {
          state.lastPartial = { at: iso(ctx), rejected: outcome.partial.rejected, message: outcome.partial.message.slice(0, 200), ...range };
          await record(ctx, {
            event: 'audit.sink.partial',
            fields: { rejected: outcome.partial.rejected, seq_from: first, seq_to: covered.seq },
            localOnly: true,
          }, { failClosed: false });
          opts.progress?.(`the collector rejected ${outcome.partial.rejected} records of seq ${first}-${covered.seq}`);
        }
      }
      writeCursor(ctx.home, { seq: covered.seq, hash: covered.head, offset: covered.end });
      state.lastSuccess = iso(ctx);
      delete state.lastError;
      result.batches++;
      first = covered.seq + 1;
      batch = [];
      return true;
    };

    if (fd !== undefined) {
      for (const line of readLinesFd(fd, start.offset)) {
        // Bytes after the last newline are a write in progress: the next run takes them.
        if (!line.terminated) break;
        const end = line.offset + line.bytes.length + 1;
        result.end = end;
        if (isBlankLine(line.bytes)) continue;
        const row = parseRow(line.bytes)?.row;
        if (!row || row.seq <= covered.seq) continue;
        covered = { seq: row.seq, head: row.hash, end };
        if (isShippable(row)) batch.push(row);
        if (batch.length >= cfg.batchSize && !(await flush(false))) return result;
        if (opts.signal?.aborted) break;
      }
    }
    // Local-only rows alone are not worth a request: the next batch's checkpoint covers them.
    if (batch.length > 0) await flush(false);
    else if (opts.heartbeat && result.batches === 0) await flush(true);
    return result;
  } finally {
    if (fd !== undefined) closeSync(fd);
    writeState(ctx.home, state);
  }
}

export interface Pending {
  /** Highest seq in the log (or the cursor's, when the log has nothing after it). */
  lastSeq: number;
  /** Rows after the cursor that will be sent. */
  events: number;
  /** Rows after the cursor that stay local (covered by a checkpoint, not sent). */
  localOnly: number;
  mismatch?: string;
}

/** What the next run would send; reads the log, changes nothing. */
export function pendingSummary(ctx: Context): Pending {
  const cursor = readCursor(ctx.home);
  const fd = openLogFd(ctx.home.audit);
  if (fd === undefined) return { lastSeq: cursor?.seq ?? 0, events: 0, localOnly: 0 };
  try {
    const start = startPoint(fd, cursor);
    const out: Pending = { lastSeq: start.afterSeq, events: 0, localOnly: 0, mismatch: start.mismatch };
    for (const line of readLinesFd(fd, start.offset)) {
      if (!line.terminated) break;
      const row = parseRow(line.bytes)?.row;
      if (!row || row.seq <= start.afterSeq) continue;
      out.lastSeq = Math.max(out.lastSeq, row.seq);
      if (isShippable(row)) out.events++;
      else out.localOnly++;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
