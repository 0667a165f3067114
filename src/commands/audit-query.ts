import { record } from '../audit/record.js';
import { readRows, SkipReporter } from '../audit/reader.js';
import { checkFilter, matches, parseTime, type Filter } from '../audit/query.js';
import { textRow, textStyle } from '../audit/format.js';
import { count, fileField, formatOf, lineWriter, logPath } from './audit-common.js';
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
  // lsm's own audit.* reads fill the log while one investigates: hidden unless asked for.
  const showAudit = Boolean(opts.all) || (typeof opts.event === 'string' && opts.event.startsWith('audit.'));
  const excluded: string[] = [].concat(opts.excludeEvent ?? []);
  const isExcluded = (e: string) => excluded.some((x) => (x.endsWith('*') ? e.startsWith(x.slice(0, -1)) : e === x));
  if (limit !== 0) {
    for (const p of readRows(path, skipped)) {
      if (!showAudit && p.row.event.startsWith('audit.')) continue;
      if (isExcluded(p.row.event)) continue;
      if (!matches(p.row, filter)) continue;
      matched++;
      if (!out(format === 'json' ? p.raw : textRow(p.row, style)) || matched === limit) break;
    }
  }
  out.flush();
  skipped.finish();
  const used = Object.entries(filter).filter(([, v]) => v !== undefined).map(([k]) => k);
  await record(ctx, { event: 'audit.query', fields: { matched, filters: used, ...fileField(ctx, path) } }, { failClosed: false });
  return 0;
}
