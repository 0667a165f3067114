import { record } from '../audit/record.js';
import { lastRows, SkipReporter, type ParsedRow } from '../audit/reader.js';
import { follow } from '../audit/follow.js';
import { TextTable, textStyle } from '../audit/format.js';
import { eventVisibility } from '../audit/query.js';
import { stdoutIsTTY } from '../term/tty.js';
import { count, fileField, formatOf, lineWriter, logPath } from './audit-common.js';
import type { Command } from 'commander';
import type { Context } from '../context.js';

export async function run(ctx: Context, _args: string[], opts: Record<string, any>, cmd?: Command): Promise<number> {
  const format = formatOf(opts, cmd);
  const n = count(opts.num ?? '20', '--num') ?? 20;
  const path = logPath(ctx, opts);
  const style = textStyle(ctx.env);
  const out = lineWriter(ctx, 64 * 1024);
  const stop = new AbortController();
  // lsm's own audit.* reads (this tail among them) are hidden unless asked for.
  const visible = eventVisibility({ all: opts.all, event: opts.event, exclude: [].concat(opts.excludeEvent ?? []) });
  const table = new TextTable(style, stdoutIsTTY() ? process.stdout.columns || 80 : undefined);
  const print = (p: ParsedRow) => {
    if (!visible(p.row.event)) return;
    if (format === 'json') {
      if (!out(p.raw)) stop.abort();
      return;
    }
    for (const l of table.lines(p.row)) if (!out(l)) return stop.abort();
  };
  const skipped = new SkipReporter(path, ctx.stderr);
  const { rows, end, ino } = lastRows(path, n, skipped, (row) => visible(row.event));
  if (format === 'text') out(table.header());
  for (const p of rows) print(p);
  if (!out.flush()) stop.abort();
  skipped.finish();
  await record(ctx, { event: 'audit.tail', fields: { n, follow: !!opts.follow, ...fileField(ctx, path) } }, { failClosed: false });
  if (!opts.follow || stop.signal.aborted) return 0;

  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await follow(path, { offset: end, ino }, {
      onRow: print,
      onIdle: () => {
        if (!out.flush()) stop.abort();
      },
      skipped: new SkipReporter(path, ctx.stderr),
      warn: (msg) => ctx.stderr.write(`lsm: warning: ${msg}\n`),
      signal: stop.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
