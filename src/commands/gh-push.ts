import { LsmError, EXIT } from '../errors.js';
import { record } from '../audit/record.js';
import { parseEnv } from '../dotenv.js';
import { vaultOf } from '../vault-of.js';
import { confirm } from '../term/prompt.js';
import { stdinIsTTY } from '../term/tty.js';
import {
  auditTarget, byteOrder, checkPushable, ghName, ghPreflight, ghTargetOf, listRemote, markerTarget,
  readMarker, resolveGhProject, rfc3339, runGh, scopeArgs, summarize, targetLabel, writeMarker, type GhTarget, type RemoteSecret,
} from '../github.js';
import { requireHome } from './common.js';
import type { Context } from '../context.js';

interface PushOptions {
  repo?: string;
  ghEnv?: string;
  prune?: boolean;
  force?: boolean;
  reason?: string;
  withCanaries?: boolean;
}

interface Failure {
  reason: 'set_failed' | 'prune_list_failed' | 'prune_failed';
  name?: string;
  message: string;
}

/** y/N on the terminal; `--force` says yes; off a terminal without it, refuse. */
async function agreed(ctx: Context, force: boolean | undefined, prompt: string): Promise<boolean> {
  if (force) return true;
  if (!stdinIsTTY()) {
    throw new LsmError('usage', 'refusing to proceed without confirmation (not a terminal); re-run with --force', { exit: EXIT.failure });
  }
  return confirm(ctx.stdin, ctx.stderr, prompt);
}

function lines(names: readonly string[]): string {
  return names.map((n) => `  ${n}\n`).join('');
}

export async function run(ctx: Context, _args: string[], opts: PushOptions): Promise<number> {
  requireHome(ctx);
  const { target, config } = await resolveGhProject(ctx);
  const gt = ghTargetOf(ctx, opts);
  const base = { repo: gt.repo, target: auditTarget(gt) };
  // Through the vault: in a protected home the keeper names what would be sent and asks
  // the policy (values leaving for GitHub are plaintext egress, as for dump) before the
  // question; a refusal is recorded and thrown, and nothing is sent.
  const vault = await vaultOf(ctx);
  const names = await vault.ghNames(target, { command: 'gh_push', withCanaries: opts.withCanaries, reason: opts.reason, fields: base });
  checkPushable(names);
  ghPreflight(ctx);

  // One GitHub target holds one set of secrets: a push from another env replaces theirs.
  const last = readMarker(config.tree, target.app);
  const overwrites = last && last.env && last.env !== target.env && last.repo === gt.repo && last.target === markerTarget(gt) ? last.env : undefined;
  if (overwrites) {
    ctx.stderr.write(`lsm: warning: the last push to ${targetLabel(gt)} was from ${target.app}/${overwrites}; this push from ${target.app}/${target.env} overwrites its secrets of the same names (use --gh-env to keep envs apart)\n`);
  }
  ctx.stdout.write(`About to set ${names.length} secret(s) on ${targetLabel(gt)}:\n${lines(names)}`);
  if (!(await agreed(ctx, opts.force, `Set ${names.length} secret(s) on ${targetLabel(gt)}?`))) {
    ctx.stdout.write('Aborted.\n');
    return 0;
  }

  // The values are about to leave the machine: revealed only with the intent recorded (a
  // push that cannot be recorded does not happen), a canary pushed recorded as read.
  const revealed = await vault.reveal(target, {
    command: 'gh_push', event: 'gh_push_intent', withCanaries: opts.withCanaries, reason: opts.reason,
    fields: { ...base, prune: Boolean(opts.prune), ...(overwrites ? { overwrites_env: overwrites } : {}) },
  });
  const doc = parseEnv(revealed.text, `${target.app}/${target.env}`);
  const secrets = revealed.keys.map((k): [string, string] => [k, doc.get(k) ?? '']).sort((a, b) => byteOrder(a[0], b[0]));
  const sent = secrets.map(([n]) => n);
  if (sent.join('\0') !== names.join('\0')) {
    await record(ctx, { event: 'gh_push', ...target, outcome: 'error', fields: { ...base, names: [], count: 0, reason: 'store_changed' } }, { failClosed: false }).catch(() => {});
    throw new LsmError('locked', `${target.app}/${target.env} changed while you were confirming; nothing was sent`, { hint: "run 'lsm gh push' again" });
  }
  const trimmed = secrets.filter(([, v]) => /[\r\n]$/.test(v)).map(([n]) => n);
  if (trimmed.length > 0) {
    ctx.stderr.write(`lsm: warning: gh drops trailing line breaks from a value; ${trimmed.join(', ')} will reach GitHub without them\n`);
  }

  const values = secrets.map(([, v]) => v);
  const set: string[] = [];
  const pruned: string[] = [];
  let failure: Failure | undefined;
  for (const [name, value] of secrets) {
    const detail = attempt(() => runGh(ctx, ['secret', 'set', name, ...scopeArgs(gt)], value), values);
    if (detail !== undefined) {
      failure = { reason: 'set_failed', name, message: `${set.length} of ${names.length} secrets were set before failure on ${name}: ${detail}` };
      break;
    }
    set.push(name);
  }
  if (!failure && opts.prune) failure = await prune(ctx, gt, names, opts, pruned, values);

  const fields: Record<string, unknown> = { ...base, names: set, count: set.length };
  if (pruned.length > 0) Object.assign(fields, { pruned, pruned_count: pruned.length });
  if (failure) Object.assign(fields, { reason: failure.reason, ...(failure.name ? { failed_on: failure.name } : {}) });
  await record(ctx, { event: 'gh_push', ...target, outcome: failure ? 'error' : 'ok', fields }, { failClosed: false }).catch(() => {});

  if (failure) {
    throw new LsmError('exec', failure.message, {
      hint: "a push is not atomic: fix the cause and run 'lsm gh push' again (setting a secret twice is harmless)",
    });
  }
  try {
    await writeMarker(ctx.home, target.app, { repo: gt.repo, target: markerTarget(gt), env: target.env, last_pushed: rfc3339(ctx.now()), last_count: set.length });
  } catch (err) {
    ctx.stderr.write(`lsm: warning: github marker: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  ctx.stdout.write(`Set ${set.length} secret(s) on ${gt.repo}\n`);
  if (pruned.length > 0) ctx.stdout.write(`Pruned ${pruned.length} secret(s) no longer present locally\n`);
  return 0;
}

/** Runs one gh call; undefined on success, else what went wrong (never a value). */
function attempt(call: () => { status: number; stderr: string }, values: readonly string[]): string | undefined {
  try {
    const r = call();
    return r.status === 0 ? undefined : summarize(r.stderr, values);
  } catch (err) {
    return err instanceof LsmError ? err.message : 'gh could not be run';
  }
}

/** Deletes the remote secrets with no local key, after their own confirmation. */
async function prune(ctx: Context, gt: GhTarget, names: string[], opts: PushOptions, pruned: string[], values: readonly string[]): Promise<Failure | undefined> {
  let remote: RemoteSecret[];
  try {
    remote = listRemote(ctx, gt, values);
  } catch (err) {
    return { reason: 'prune_list_failed', message: `secrets were set, but listing the remote ones for --prune failed: ${err instanceof LsmError ? err.message : 'gh could not be run'}` };
  }
  const local = new Set(names.map(ghName));
  const stale = remote.map((s) => s.name).filter((n) => !local.has(ghName(n))).sort(byteOrder);
  if (stale.length === 0) return undefined;
  ctx.stdout.write(`The following ${stale.length} remote secret(s) are not present locally and will be DELETED:\n${lines(stale)}`);
  if (!(await agreed(ctx, opts.force, `Delete ${stale.length} remote secret(s) from ${gt.repo}?`))) {
    ctx.stdout.write('Prune aborted; secrets were set but nothing was deleted.\n');
    return undefined;
  }
  for (const name of stale) {
    const detail = attempt(() => runGh(ctx, ['secret', 'delete', name, ...scopeArgs(gt)]), values);
    if (detail !== undefined) {
      return { reason: 'prune_failed', name, message: `${pruned.length} of ${stale.length} remote secrets were deleted before failure on ${name}: ${detail}` };
    }
    pruned.push(name);
  }
  return undefined;
}
