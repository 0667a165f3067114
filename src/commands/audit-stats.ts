import { record } from '../audit/record.js';
import { readRows, SkipReporter } from '../audit/reader.js';
import { parseTime } from '../audit/query.js';
import { formatTs } from '../audit/event.js';
import { safe, textStyle } from '../audit/format.js';
import { WallClock } from '../audit/detectors.js';
import { StatsPass, type Stats } from '../audit/stats.js';
import { DAYS, renderHeatmap } from '../term/heatmap.js';
import { paint } from '../term/tty.js';
import { fileField, formatOf, logPath } from './audit-common.js';
import type { Command } from 'commander';
import type { Context } from '../context.js';

const iso = (ms: number) => formatTs(new Date(ms));

export function statsJson(s: Stats, zone: string, since?: number, until?: number): string {
  return JSON.stringify({
    events: s.events,
    since: since === undefined ? null : iso(since),
    until: until === undefined ? null : iso(until),
    time_zone: zone,
    keys: s.keys.map((k) => ({
      app: k.app, env: k.env, key: k.key, events: k.events, revealed: k.revealed, masked: k.masked, denied: k.denied, declined: k.declined,
      last_access: Number.isNaN(k.lastMs) ? null : iso(k.lastMs), last_by: k.lastBy || null, by: k.by,
    })),
    actors: s.actors.map((a) => ({
      actor: a.actor, events: a.events, keys: a.keys, first_seen: iso(a.firstMs), last_seen: iso(a.lastMs),
    })),
    heatmap: { days: DAYS, counts: s.heat, max: Math.max(0, ...s.heat.flat()) },
  });
}

/** Left-aligned columns, widths measured: stats hold one line per key or actor, not per row. */
function table(head: string[], rows: string[][], right: Set<number>): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

export function statsText(s: Stats, clock: WallClock, colour: boolean): string[] {
  const out: string[] = [];
  const bold = (t: string) => paint(colour, 'bold', t);
  out.push(bold(`Keys (${s.keys.length})`));
  if (s.keys.length === 0) out.push('  none');
  else {
    const rows = s.keys.map((k) => [
      safe([k.app, k.env].filter(Boolean).join('/') || '-'), safe(k.key),
      String(k.revealed), String(k.masked), String(k.denied), String(k.declined),
      Number.isNaN(k.lastMs) ? '-' : clock.format(k.lastMs), safe(k.lastBy || '-'),
      Object.entries(k.by).sort(([a], [b]) => (a < b ? -1 : 1)).map(([w, n]) => `${safe(w)} ${n}`).join(', '),
    ]);
    out.push(...table(['APP/ENV', 'KEY', 'REVEALED', 'MASKED', 'DENIED', 'DECLINED', 'LAST ACCESS', 'LAST BY', 'BY'], rows, new Set([2, 3, 4, 5])).map((l) => `  ${l}`));
  }
  out.push('', bold(`Actors (${s.actors.length})`));
  if (s.actors.length === 0) out.push('  none');
  else {
    const rows = s.actors.map((a) => [safe(a.actor) || '-', String(a.events), String(a.keys), clock.format(a.firstMs), clock.format(a.lastMs)]);
    out.push(...table(['ACTOR', 'EVENTS', 'KEYS', 'FIRST SEEN', 'LAST SEEN'], rows, new Set([1, 2])).map((l) => `  ${l}`));
  }
  out.push('', bold(`When (${s.events} events, hour of day, ${clock.zone})`));
  out.push(...renderHeatmap(s.heat, { colour }).map((l) => `  ${l}`));
  return out;
}

export async function run(ctx: Context, _args: string[], opts: Record<string, any>, cmd?: Command): Promise<number> {
  const format = formatOf(opts, cmd);
  const now = ctx.now();
  const since = opts.since === undefined ? undefined : parseTime(opts.since, now, '--since');
  const until = opts.until === undefined ? undefined : parseTime(opts.until, now, '--until');
  const utc = Boolean(opts.utc);
  const path = logPath(ctx, opts);
  const skipped = new SkipReporter(path, ctx.stderr);
  const pass = new StatsPass({ since, until, utc });
  for (const p of readRows(path, skipped)) pass.feed(p.row);
  skipped.finish();
  const stats = pass.result();
  const clock = new WallClock(utc);
  if (format === 'json') ctx.stdout.write(`${statsJson(stats, clock.zone, since, until)}\n`);
  else ctx.stdout.write(`${statsText(stats, clock, textStyle(ctx.env).colour).join('\n')}\n`);
  await record(ctx, {
    event: 'audit.stats',
    fields: { events: stats.events, keys: stats.keys.length, actors: stats.actors.length, ...fileField(ctx, path) },
  }, { failClosed: false });
  return 0;
}
