import { record } from '../audit/record.js';
import { verifyLog, type VerifyReport } from '../audit/verify.js';
import { stderrIsTTY } from '../term/tty.js';
import { fileField, formatOf, logPath } from './audit-common.js';
import type { Command } from 'commander';
import type { Context } from '../context.js';

const PROGRESS_FROM = 64 * 1024 * 1024;

// A percentage on stderr, only on a terminal and only for logs big enough to wait for.
function progress(ctx: Context): ((read: number, total: number) => void) | undefined {
  if (!stderrIsTTY()) return undefined;
  let shown = -1;
  return (read, total) => {
    if (total < PROGRESS_FROM) return;
    const pct = Math.floor((read / total) * 100);
    if (pct === shown) return;
    shown = pct;
    ctx.stderr.write(pct >= 100 ? '\r\u001b[K' : `\rverifying the audit log: ${pct}%`);
  };
}

function printText(ctx: Context, r: VerifyReport, all: boolean): void {
  if (!r.exists) {
    ctx.stdout.write(`audit log not found at ${r.file}; nothing to verify\n`);
    return;
  }
  for (const n of r.notes) ctx.stdout.write(`note: ${n.line ? `line ${n.line}: ` : ''}${n.message}\n`);
  if (r.problems.length === 0) {
    const empty = r.events === 0 && !r.notes.some((n) => n.kind === 'torn_tail');
    ctx.stdout.write(empty ? 'audit log is empty; nothing to verify\n' : `OK: chain valid (events=${r.events})\n`);
    return;
  }
  for (const p of r.problems) ctx.stderr.write(`FAIL at seq=${p.seq} line=${p.line}: ${p.message}\n`);
  ctx.stderr.write(
    all
      ? `lsm: the audit log ${r.file} failed verification (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'})\n`
      : `lsm: the audit log ${r.file} failed verification\nhint: --all lists every problem\n`,
  );
}

export async function run(ctx: Context, _args: string[], opts: Record<string, any>, cmd?: Command): Promise<number> {
  const format = formatOf(opts, cmd);
  const path = logPath(ctx, opts);
  const all = !!opts.all;
  const report = verifyLog(path, { all, onProgress: progress(ctx) });
  const ok = report.problems.length === 0;
  if (format === 'json') {
    const { file, exists, events, lastSeq, lastHash, problems, notes, schemas } = report;
    ctx.stdout.write(`${JSON.stringify({ ok, file, exists, events, last_seq: lastSeq, last_hash: lastHash, schemas, problems, notes })}\n`);
  } else {
    printText(ctx, report, all);
  }
  const first = report.problems[0];
  await record(
    ctx,
    ok
      ? { event: 'audit.verify', fields: { events: report.events, ...fileField(ctx, path) } }
      : {
          event: 'audit.verify.failed',
          outcome: 'error',
          localOnly: true,
          fields: {
            events: report.events,
            problems: report.problems.length,
            first_kind: first.kind,
            first_seq: first.seq,
            first_line: first.line,
            ...fileField(ctx, path),
          },
        },
    { failClosed: false },
  );
  return ok ? 0 : 1;
}
