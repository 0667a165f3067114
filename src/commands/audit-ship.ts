import { statSync } from 'node:fs';
import { LsmError } from '../errors.js';
import { readConfig } from '../config.js';
import type { Command } from 'commander';
import { safe, type Format } from '../audit/format.js';
import { formatOf } from './audit-common.js';
import { shipConfig, shownEndpoint, type ShipConfig } from '../audit/otlp-config.js';
import { pendingSummary, shipPending, sleep, type ShipResult } from '../audit/ship.js';
import { readCursor, readState, writeState } from '../audit/cursor.js';
import { clearSpawnStamp, deferSpawns, runningShipper, shipperFailure, tryShipLock } from '../audit/trigger.js';
import type { Context } from '../context.js';

/** After a failed run, commands leave the collector alone this long before starting another shipper. */
const QUIET_AFTER_FAILURE_MS = 30_000;
/** `--follow` sends a heartbeat checkpoint after this long without sending anything. */
const FOLLOW_HEARTBEAT_MS = 10 * 60_000;
const FOLLOW_POLL_MS = 1000;
/** Rounds of "ship, let go, see whether commands appended meanwhile" in one run. */
const MAX_ROUNDS = 5;

function logSize(ctx: Context): number {
  try {
    return statSync(ctx.home.audit).size;
  } catch {
    return 0;
  }
}

function failed(ctx: Context, message: string): void {
  const state = readState(ctx.home);
  state.lastError = { at: ctx.now().toISOString(), message };
  writeState(ctx.home, state);
}

export async function run(ctx: Context, _args: string[], opts: Record<string, any>, cmd: Command): Promise<number> {
  if (opts.status) return status(ctx, formatOf(opts, cmd));
  const background = Boolean(opts.background);
  let cfg: ShipConfig;
  try {
    cfg = shipConfig((await readConfig(ctx.home)).tree);
  } catch (err) {
    if (background) return 1;
    throw err;
  }
  if (!cfg.enabled) {
    if (background) return 0;
    throw new LsmError('config', `shipping is ${cfg.why}`, {
      hint: `set 'otlp: {enabled: true, endpoint: http://<collector>:4318}' in ${ctx.home.config} (docs/observability.md)`,
    });
  }
  if (opts.follow) return follow(ctx, cfg);
  try {
    return await once(ctx, cfg, { heartbeat: Boolean(opts.heartbeat), background });
  } catch (err) {
    if (!background) throw err;
    failed(ctx, err instanceof LsmError ? err.message : 'unexpected error');
    deferSpawns(ctx.home, QUIET_AFTER_FAILURE_MS);
    return 1;
  }
}

async function once(ctx: Context, cfg: ShipConfig, o: { heartbeat: boolean; background: boolean }): Promise<number> {
  const say = (line: string) => { if (!o.background) ctx.stderr.write(`lsm: ${line}\n`); };
  const total: ShipResult = { events: 0, batches: 0, dropped: 0, end: 0 };
  let busy = false;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const lock = tryShipLock(ctx.home);
    if (!lock) {
      if (round === 0) say(`another shipper is running (pid ${runningShipper(ctx.home) ?? '?'}); it sends what is pending`);
      busy = round === 0;
      break;
    }
    let r: ShipResult;
    try {
      clearSpawnStamp(ctx.home);
      r = await shipPending(ctx, cfg, { heartbeat: o.heartbeat && round === 0, progress: say });
    } finally {
      lock.release();
    }
    total.events += r.events;
    total.batches += r.batches;
    total.dropped += r.dropped;
    if (r.error) {
      deferSpawns(ctx.home, QUIET_AFTER_FAILURE_MS);
      if (o.background) return 1;
      const left = pendingSummary(ctx).events;
      throw new LsmError('io', `cannot deliver to ${shownEndpoint(cfg.endpoint)}: ${r.error}; ${left} events still pending`, {
        hint: "they are sent on the next run; 'lsm audit ship --status' shows the state",
      });
    }
    // A command that appended while the lock was held left its event to this run.
    if (logSize(ctx) <= r.end) break;
  }
  // A timer's heartbeat exists so that silence is visible: one that was not sent must not look sent.
  if (o.heartbeat && busy) {
    throw new LsmError('locked', `no heartbeat sent: another shipper (pid ${runningShipper(ctx.home) ?? '?'}) holds ${ctx.home.dir}/ship.lock`, {
      hint: 'run it again once that shipper is done',
    });
  }
  // "nothing to send" would be false with rows pending: the line on stderr said who sends them.
  if (!o.background && !busy) {
    const where = shownEndpoint(cfg.endpoint);
    ctx.stdout.write(
      total.batches === 0
        ? `nothing to send (${where})\n`
        : `sent ${total.events} events in ${total.batches} batch${total.batches === 1 ? '' : 'es'} to ${where}${total.dropped ? `; ${total.dropped} refused and dropped` : ''}\n`,
    );
  }
  return 0;
}

async function follow(ctx: Context, cfg: ShipConfig): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const say = (line: string) => ctx.stderr.write(`lsm: ${line}\n`);
  try {
    let lock = tryShipLock(ctx.home);
    while (!lock && !stop.signal.aborted) {
      await sleep(FOLLOW_POLL_MS, stop.signal);
      lock = tryShipLock(ctx.home);
    }
    if (!lock) return 0;
    say(`sending audit events to ${shownEndpoint(cfg.endpoint)} as they are recorded (Ctrl-C stops)`);
    try {
      clearSpawnStamp(ctx.home);
      let failures = 0;
      let lastSent = Date.now();
      while (!stop.signal.aborted) {
        const heartbeat = Date.now() - lastSent >= FOLLOW_HEARTBEAT_MS;
        const r = await shipPending(ctx, cfg, { heartbeat, signal: stop.signal, progress: say });
        if (r.batches > 0) lastSent = Date.now();
        if (r.error) {
          failures++;
          const wait = Math.min(1000 * 2 ** failures, 5 * 60_000);
          say(`cannot deliver: ${r.error}; trying again in ${Math.round(wait / 1000)} s`);
          await sleep(wait, stop.signal);
          continue;
        }
        failures = 0;
        while (!stop.signal.aborted && logSize(ctx) <= r.end && Date.now() - lastSent < FOLLOW_HEARTBEAT_MS) {
          await sleep(FOLLOW_POLL_MS, stop.signal);
        }
      }
    } finally {
      lock.release();
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function status(ctx: Context, format: Format): Promise<number> {
  const cfg = shipConfig((await readConfig(ctx.home)).tree);
  const cursor = readCursor(ctx.home);
  const state = readState(ctx.home);
  const pending = pendingSummary(ctx);
  const pid = runningShipper(ctx.home);
  const failure = pid === undefined ? redactedFailure(ctx, cfg) : undefined;
  const report = {
    enabled: cfg.enabled,
    why: cfg.why,
    endpoint: shownEndpoint(cfg.endpoint),
    endpoint_source: cfg.endpointSource,
    protocol: cfg.protocol,
    protocol_source: cfg.protocolSource,
    // Names only: header values are credentials.
    headers: Object.keys(cfg.headers),
    cursor_seq: cursor?.seq ?? 0,
    last_seq: pending.lastSeq,
    pending: pending.events,
    pending_local_only: pending.localOnly,
    shipper_running: pid !== undefined,
    shipper_pid: pid !== undefined && pid > 0 ? pid : undefined,
    shipper_failed: failure,
    last_attempt: state.lastAttempt,
    last_success: state.lastSuccess,
    last_error: state.lastError,
    last_partial: state.lastPartial,
    last_dropped: state.lastDropped,
    cursor_mismatch: pending.mismatch ?? state.cursorMismatch?.reason,
  };
  if (format === 'json') {
    ctx.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  const lines: Array<[string, string | undefined]> = [
    ['shipping', cfg.why],
    ['endpoint', `${report.endpoint} (${cfg.endpointSource})`],
    ['protocol', `${cfg.protocol} (${cfg.protocolSource})`],
    ['headers', report.headers.length ? `${report.headers.map(safe).join(', ')} (values not shown)` : 'none'],
    ['cursor', cursor ? `seq ${cursor.seq}` : 'nothing sent yet'],
    ['log', `last seq ${pending.lastSeq}`],
    ['pending', `${pending.events} events to send${pending.localOnly ? `, ${pending.localOnly} local-only rows (never sent)` : ''}`],
    ['shipper', pid === undefined ? 'not running' : `running${pid > 0 ? ` (pid ${pid})` : ''}`],
    ['failed', failure && `${failure.at}: the last shipper started failed: ${safe(failure.message)}`],
    ['last sent', state.lastSuccess],
    ['last error', state.lastError && `${state.lastError.at}: ${safe(state.lastError.message)}`],
    ['partial', state.lastPartial && `${state.lastPartial.at}: ${state.lastPartial.rejected} of seq ${state.lastPartial.seqFrom}-${state.lastPartial.seqTo} rejected: ${safe(state.lastPartial.message)}`],
    ['dropped', state.lastDropped && `${state.lastDropped.at}: ${state.lastDropped.count} events (seq ${state.lastDropped.seqFrom}-${state.lastDropped.seqTo}) refused with HTTP ${state.lastDropped.status}`],
    ['warning', report.cursor_mismatch],
  ];
  for (const [k, v] of lines) if (v) ctx.stdout.write(`${k.padEnd(11)} ${v}\n`);
  return 0;
}

/** What the last shipper said on stderr; header values are credentials, so none is shown. */
function redactedFailure(ctx: Context, cfg: ShipConfig): { at: string; message: string } | undefined {
  const f = shipperFailure(ctx.home);
  if (!f) return undefined;
  let message = f.message;
  for (const v of Object.values(cfg.headers)) if (v.length > 0) message = message.split(v).join('[header value]');
  return { at: f.at, message };
}
