import { record } from '../audit/record.js';
import type { VerifyReport } from '../audit/verify.js';
import { verdictLines, verdictsJson, verifySealed, type SealVerifyResult } from '../audit/seal-verify.js';
import { verifyInputs } from './audit-seal.js';
import { stderrIsTTY } from '../term/tty.js';
import { fileField, formatOf, logPath } from './audit-common.js';
import type { Command } from 'commander';
import type { Context } from '../context.js';
import type { KeyFile } from '../audit/seal.js';
import { isProtected } from '../vault.js';

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

function printText(ctx: Context, r: VerifyReport, all: boolean, s: SealVerifyResult): void {
  if (!r.exists && !s.inPlay) {
    ctx.stdout.write(`audit log not found at ${r.file}; nothing to verify\n`);
    return;
  }
  // The verdict first: a reader who stops at the first line must not read "OK" over a FAIL.
  // When all is well the first line is already "OK: chain valid".
  if (!s.ok) {
    const failed = [...(r.problems.length > 0 ? ['chain'] : []), ...Object.entries(s.verdicts).filter(([n, v]) => v.status === 'fail' && !(n === 'integrity' && r.problems.length > 0)).map(([n]) => n)];
    ctx.stdout.write(`FAIL: ${failed.join(', ') || 'verification'} (details below and on stderr)\n`);
  }
  for (const n of r.notes) ctx.stdout.write(`note: ${n.line ? `line ${n.line}: ` : ''}${n.message}\n`);
  if (r.problems.length === 0 && r.exists) {
    const empty = r.events === 0 && !r.notes.some((n) => n.kind === 'torn_tail');
    ctx.stdout.write(empty ? 'audit log is empty; nothing to verify\n' : s.ok ? `OK: chain valid (events=${r.events})\n` : `chain: valid (events=${r.events})\n`);
  }
  for (const p of r.problems) ctx.stderr.write(`FAIL at seq=${p.seq} line=${p.line}: ${p.message}\n`);
  // the verdicts, or what a chain alone cannot show.
  if (s.inPlay) {
    const { out, err } = verdictLines(s.verdicts, all);
    for (const l of out) ctx.stdout.write(`${l}\n`);
    for (const l of err) ctx.stderr.write(`${l}\n`);
  } else if (r.events > 0 && r.problems.length === 0) {
    ctx.stderr.write("note: only the hash chain was checked: the log is not sealed and no --anchors were given, so a rewrite that recomputes every hash, or a cut-off tail, would not show ('lsm audit seal init')\n");
  }
  if (s.ok) return;
  const problems = r.problems.length + Object.values(s.verdicts).reduce((n, v) => n + v.findings.length + v.more, 0);
  ctx.stderr.write(
    all
      ? `lsm: the audit log ${r.file} failed verification (${problems} problem${problems === 1 ? '' : 's'})\n`
      : `lsm: the audit log ${r.file} failed verification\nhint: --all lists every problem\n`,
  );
}

async function heldSealKey(ctx: Context): Promise<KeyFile | null | 'locked'> {
  const { callKeeper } = await import('../keeper/client.js');
  try {
    const k = await callKeeper<{ keyId: string; nextSeq: number } | null>(ctx, 'seal.status', {});
    return k ? { keyId: k.keyId, nextSeq: k.nextSeq, key: '' } : null;
  } catch {
    return 'locked';
  }
}

export async function run(ctx: Context, _args: string[], opts: Record<string, any>, cmd?: Command): Promise<number> {
  const format = formatOf(opts, cmd);
  const path = logPath(ctx, opts);
  const all = !!opts.all;
  // seals and anchors are checked in the same pass as the chain.
  const own = path === ctx.home.audit;
  // A protected home's seal key is in its keeper: the keeper says where it stands (never the key).
  const held = own && isProtected(ctx.home) ? await heldSealKey(ctx) : undefined;
  const sealed = verifySealed(path, {
    all, onProgress: progress(ctx), ...verifyInputs(opts),
    keyFileExpected: own && held !== 'locked',
    ...(held && held !== 'locked' ? { keyFile: held } : held === 'locked' ? { keyFile: null } : {}),
  });
  const { report, ok } = sealed;
  if (format === 'json') {
    const { file, exists, events, lastSeq, lastHash, problems, notes, schemas } = report;
    const verdicts = verdictsJson(sealed.verdicts);
    ctx.stdout.write(`${JSON.stringify({ ok, file, exists, events, last_seq: lastSeq, last_hash: lastHash, schemas, problems, notes, verdicts })}\n`);
  } else {
    printText(ctx, report, all, sealed);
  }
  const failedVerdicts = Object.entries(sealed.verdicts).filter(([name, v]) => v.status === 'fail' && name !== 'integrity').map(([name]) => name);
  const firstFinding = Object.values(sealed.verdicts).flatMap((v) => v.findings)[0];
  const first = report.problems[0] ?? (firstFinding && { kind: firstFinding.kind, seq: firstFinding.seq, line: 0 });
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
            problems: report.problems.length + Object.values(sealed.verdicts).reduce((n, v) => n + v.findings.length, 0),
            first_kind: first.kind,
            first_seq: first.seq,
            first_line: first.line,
            ...(failedVerdicts.length > 0 ? { verdicts: failedVerdicts } : {}),
            ...fileField(ctx, path),
          },
        },
    { failClosed: false },
  );
  return ok ? 0 : 1;
}
