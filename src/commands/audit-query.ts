import { record } from '../audit/record.js';
import { readRows, SkipReporter } from '../audit/reader.js';
import { BackdatedGuard } from '../audit/tamper-detectors.js';
import { checkFilter, eventVisibility, matches, parseTime, tsMillis, type Filter } from '../audit/query.js';
import { TextTable, textStyle } from '../audit/format.js';
import { stdoutIsTTY } from '../term/tty.js';
import { count, fileField, formatOf, lineWriter, logPath } from './audit-common.js';
import type { AuditRow } from '../audit/event.js';
import type { Command } from 'commander';
import type { Context } from '../context.js';

/** The query's filter from its flags; throws usage errors. */
export function filterOf(ctx: Context, opts: Record<string, any>): Filter {
  const now = ctx.now();
  const f: Filter = {
    // The program's own -a/--app and -e/--env take these flags wherever they are typed.
    app: opts.app ?? ctx.flags.app,
    env: opts.env ?? ctx.flags.env,
    event: opts.event,
    parentComm: opts.parentComm,
    agentMarker: opts.agentMarker,
    tty: opts.tty,
    since: opts.since === undefined ? undefined : parseTime(opts.since, now, '--since'),
    until: opts.until === undefined ? undefined : parseTime(opts.until, now, '--until'),
    // 0 means unbounded, as in the original.
    seqFrom: count(opts.seqFrom, '--seq-from') || undefined,
    seqTo: count(opts.seqTo, '--seq-to') || undefined,
    key: opts.key,
    outcome: opts.outcome,
    agent: opts.agent,
    ancestor: opts.ancestor,
  };
  checkFilter(f);
  return f;
}

export async function run(ctx: Context, _args: string[], opts: Record<string, any>, cmd?: Command): Promise<number> {
  const format = formatOf(opts, cmd);
  const filter = filterOf(ctx, opts);
  const limit = count(opts.limit, '--limit');
  const path = logPath(ctx, opts);
  const style = textStyle(ctx.env);
  const skipped = new SkipReporter(path, ctx.stderr);
  const out = lineWriter(ctx, 64 * 1024);
  let matched = 0;
  const visible = eventVisibility({ all: opts.all, event: opts.event, exclude: [].concat(opts.excludeEvent ?? []) });
  const table = new TextTable(style, stdoutIsTTY() ? process.stdout.columns || 80 : undefined);
  if (format === 'text' && limit !== 0) out(table.header());
  const print = (row: AuditRow, raw: string) => (format === 'json' ? out(raw) : table.lines(row).every((l) => out(l)));
  if (limit !== 0) {
    const guard = new BackdatedGuard(filter.since);
    for (const p of readRows(path, skipped)) {
      if (!visible(p.row.event)) continue;
      const back = guard.feed(p.row, tsMillis(p.row.ts));
      if (!matches(p.row, back ? { ...filter, since: undefined } : filter)) continue;
      if (back) ctx.stderr.write(`lsm: warning: seq ${p.row.seq} is stamped ${p.row.ts || '(no time)'}, before seq ${back.above} above it in the log: shown despite --since (time went backwards)\n`);
      matched++;
      if (!print(p.row, p.raw) || matched === limit) break;
    }
  }
  out.flush();
  skipped.finish();
  const used = Object.entries(filter).filter(([, v]) => v !== undefined).map(([k]) => k);
  await record(ctx, { event: 'audit.query', fields: { matched, filters: used, ...fileField(ctx, path) } }, { failClosed: false });
  return 0;
}
