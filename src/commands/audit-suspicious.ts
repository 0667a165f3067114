import { EXIT, LsmError, usage } from '../errors.js';
import { readConfig, setting, type ConfigTree } from '../config.js';
import { record } from '../audit/record.js';
import { readRows, SkipReporter } from '../audit/reader.js';
import { parseDuration, parseTime } from '../audit/query.js';
import { localTime, safe, textRow, textStyle, type TextStyle } from '../audit/format.js';
import { DEFAULT_HOURS, WallClock, parseHours } from '../audit/detectors.js';
import { IncidentGrouper, SuspiciousPass, type Flagged, type Incident, type SuspiciousSettings } from '../audit/suspicious.js';
import { paint } from '../term/tty.js';
import { actorLabel } from '../audit/access.js';
import { fileField, formatOf, lineWriter, logPath } from './audit-common.js';
import type { Command } from 'commander';
import type { Context } from '../context.js';

export const DEFAULTS = { hours: DEFAULT_HOURS, burstThreshold: 50, burstWindow: '1m', lookback: '30d' } as const;

function configValue(tree: ConfigTree, key: string): string | undefined {
  const v = setting(tree, 'suspicious', key);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  throw new LsmError('config', `config.yaml: suspicious.${key} must be a scalar`);
}

function duration(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw usage(`${flag}: cannot read the duration ${JSON.stringify(text)}`, 'use e.g. 30s, 1m, 2h, 30d, 1w');
  return ms;
}

/**
 * Flags first, then `suspicious:` in config.yaml (the user's own thresholds; nothing
 * in a project directory is read), then the original's defaults.
 */
export async function settingsOf(ctx: Context, opts: Record<string, any>): Promise<SuspiciousSettings> {
  const tree = (await readConfig(ctx.home)).tree;
  // Each value is parsed where it came from, so a bad one is blamed on the flag or the file.
  const parse = <T>(flag: string, key: string, fallback: string | number, read: (text: string, label: string) => T): T => {
    if (opts[flag] !== undefined) return read(String(opts[flag]), `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    const v = configValue(tree, key);
    if (v === undefined) return read(String(fallback), 'default');
    try {
      return read(v, `${ctx.home.config}: suspicious.${key}`);
    } catch (err) {
      if (err instanceof LsmError && err.code === 'usage') throw new LsmError('config', err.message, { hint: err.hint });
      throw err;
    }
  };
  const now = ctx.now();
  return {
    hours: parse('hours', 'hours', DEFAULTS.hours, parseHours),
    utc: Boolean(opts.utc),
    burstThreshold: parse('burstThreshold', 'burst_threshold', DEFAULTS.burstThreshold, threshold),
    burstWindowMs: parse('burstWindow', 'burst_window', DEFAULTS.burstWindow, duration),
    lookbackMs: parse('lookback', 'lookback', DEFAULTS.lookback, duration),
    since: opts.since === undefined ? undefined : parseTime(opts.since, now, '--since'),
    until: opts.until === undefined ? undefined : parseTime(opts.until, now, '--until'),
  };
}

function threshold(text: string, label: string): number {
  const n = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > 1_000_000) {
    throw usage(`${label}: the burst threshold must be a whole number from 1 to 1000000, got ${JSON.stringify(text)}`);
  }
  return n;
}

export const REASON_COLOUR: Record<string, 'yellow' | 'red' | 'magenta' | 'cyan'> = {
  agent_plaintext: 'red', outside_hours: 'yellow', burst: 'red', new_parent_comm: 'magenta', non_interactive_no_agent: 'cyan', canary: 'red', approval_refused: 'red',
  time_backwards: 'red', torn_row: 'red', config_loosened: 'red', store_swapped: 'red', keeper_alarm: 'red',
};

function incidentLine(inc: Incident, clock: WallClock, style: TextStyle): string {
  let when = Number.isNaN(inc.firstMs) ? '(no time)'.padEnd(19) : clock.format(inc.firstMs);
  if (inc.count > 1 && !Number.isNaN(inc.lastMs)) {
    const last = clock.format(inc.lastMs);
    when += ` – ${last.slice(0, 10) === when.slice(0, 10) ? last.slice(11) : last}`;
  }
  // Reasons this file does not know (other detectors') are listed uncoloured.
  const reasons = inc.reasons.map((r) => (REASON_COLOUR[r] ? paint(style.colour, REASON_COLOUR[r], r) : safe(r))).join(',');
  const places = inc.places.length > 4 ? [...inc.places.slice(0, 4), `+${inc.places.length - 4} more`] : inc.places;
  // Fixed minimum widths, as in format.ts: incidents stream out and cannot be measured first.
  const actor = safe(inc.actor) || '-';
  return [
    when.padEnd(30),
    paint(style.colour, 'bold', actor) + ' '.repeat(Math.max(0, 12 - actor.length)),
    `${inc.count} event${inc.count === 1 ? '' : 's'}`.padEnd(10),
    `[${reasons}]`,
    (inc.high ? `${paint(style.colour, 'red', 'HIGH')} ` : '') + safe(places.join(', ')),
  ].join('  ');
}

function rowLine(f: Flagged, clock: WallClock, style: TextStyle, utc: boolean): string {
  let line = textRow(f.row, style);
  // textRow prints local time; under --utc the listing must agree with its header.
  if (utc && !Number.isNaN(f.ms)) line = clock.format(f.ms) + line.slice(localTime(f.row.ts).length);
  return `    [${f.reasons.join(',')}] ${line}`;
}

export async function run(ctx: Context, _args: string[], opts: Record<string, any>, cmd?: Command): Promise<number> {
  const format = formatOf(opts, cmd);
  const settings = await settingsOf(ctx, opts);
  const path = logPath(ctx, opts);
  const style = textStyle(ctx.env);
  const clock = new WallClock(settings.utc);
  const skipped = new SkipReporter(path, ctx.stderr);
  const write = lineWriter(ctx, 64 * 1024);
  const pass = new SuspiciousPass(settings);
  let incidents = 0;
  let open = true;
  const grouper = new IncidentGrouper(Boolean(opts.verbose), (inc) => {
    incidents++;
    if (!open) return;
    open = write(incidentLine(inc, clock, style));
    for (const f of inc.rows ?? []) if (open) open = write(rowLine(f, clock, style, settings.utc));
  });

  for (const p of readRows(path, skipped)) {
    const f = pass.feed(p.row, p.raw);
    if (!f) continue;
    if (format === 'json') {
      // The stored line as it is, so a consumer can re-verify its hash.
      const extra = `,"actor":${JSON.stringify(actorLabel(f.id))},"caller":${JSON.stringify(f.id.kind)}${f.high ? ',"high":true' : ''}`;
      if (!write(`{"reasons":${JSON.stringify(f.reasons)}${extra},"event":${p.raw}}`)) break;
    } else {
      grouper.add(f);
      if (!open) break;
    }
  }
  grouper.finish();
  skipped.finish();
  open = write.flush() && open;

  if (pass.young) {
    ctx.stderr.write(
      `lsm: note: the audit log spans less than the ${fmtMs(settings.lookbackMs)} lookback (it starts ${clock.format(pass.firstMs)}): ` +
      'new_parent_comm needs that much history before a row, so it judged nothing\n',
    );
  }
  if (format === 'text' && open) {
    if (pass.flagged === 0) write('no suspicious events found');
    else {
      write(
        `${pass.flagged} flagged event${pass.flagged === 1 ? '' : 's'} in ${incidents} incident${incidents === 1 ? '' : 's'} ` +
        `(seq ${pass.seqFrom}-${pass.seqTo}); hours ${settings.hours.text} ${clock.zone}, ` +
        `burst > ${settings.burstThreshold} in ${fmtMs(settings.burstWindowMs)}, lookback ${fmtMs(settings.lookbackMs)}`,
      );
    }
    write.flush();
  }
  if (pass.flagged > 0) {
    // One local-only row per run, not one per flagged row: the log must not amplify
    // what it reports, and what was found stays on this machine.
    await record(
      ctx,
      { event: 'audit.suspicious.flagged', localOnly: true, fields: { count: pass.flagged, seq_from: pass.seqFrom, seq_to: pass.seqTo, ...fileField(ctx, path) } },
      { failClosed: false },
    );
  }
  return pass.flagged > 0 && opts.failOnMatch ? EXIT.flagged : EXIT.ok;
}

function fmtMs(ms: number): string {
  const units: Array<[string, number]> = [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  for (const [u, n] of units) if (ms % n === 0) return `${ms / n}${u}`;
  return `${ms}ms`;
}
