import { LsmError, usage } from '../errors.js';
import { record } from '../audit/record.js';
import { readRows, SkipReporter, type ParsedRow } from '../audit/reader.js';
import { showText, textStyle } from '../audit/format.js';
import { fileField, formatOf, logPath } from './audit-common.js';
import type { Command } from 'commander';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[], opts: Record<string, any>, cmd?: Command): Promise<number> {
  const format = formatOf(opts, cmd);
  const text = args[0] ?? '';
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 1) {
    throw usage(`invalid seq ${JSON.stringify(text)}: expected a positive integer`);
  }
  const seq = Number(text);
  const path = logPath(ctx, opts);
  const skipped = new SkipReporter(path, ctx.stderr);
  let found: ParsedRow | undefined;
  // The whole file is read: a second row with the same seq is a sign of tampering.
  for (const p of readRows(path, skipped)) {
    if (p.row.seq !== seq) continue;
    if (!found) found = p;
    else ctx.stderr.write(`lsm: warning: ${path}:${p.no}: duplicate seq=${seq} ignored (the first is on line ${found.no})\n`);
  }
  skipped.finish();
  await record(ctx, { event: 'audit.show', outcome: found ? 'ok' : 'error', fields: { seq, ...fileField(ctx, path) } }, { failClosed: false });
  if (!found) throw new LsmError('not_found', `seq ${seq} not found in ${path}`, { hint: "'lsm audit tail' shows the latest events" });
  ctx.stdout.write(`${format === 'json' ? JSON.stringify(JSON.parse(found.raw), null, 2) : showText(found.row, textStyle(ctx.env))}\n`);
  return 0;
}
