import { LsmError, EXIT } from '../errors.js';
import { loadStore } from '../store.js';
import { record } from '../audit/record.js';
import { enforceEgress } from '../policy.js';
import { canaryNames, recordCanaryReads } from '../canary.js';
import { confirm } from '../term/prompt.js';
import { stdinIsTTY } from '../term/tty.js';
import {
  auditTarget, byteOrder, checkPushable, emptyStore, ghName, ghPreflight, ghTargetOf, listRemote, markerTarget,
  readMarker, resolveGhProject, rfc3339, runGh, scopeArgs, summarize, targetLabel, writeMarker, type GhTarget, type RemoteSecret,
} from '../github.js';
import { identityOf, requireHome } from './common.js';
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
  const { doc } = await loadStore(ctx.home, target, await identityOf(ctx));
  // Canaries stay home unless asked for, as in exec: one in CI would fire on the owner's own workflow runs.
  const decoys = opts.withCanaries ? new Set<string>() : canaryNames(ctx.home, target, (m) => ctx.stderr.write(m));
  const secrets = doc.entries().filter(([k]) => !decoys.has(k)).sort((a, b) => byteOrder(a[0], b[0]));
  if (secrets.length === 0) throw emptyStore(target);
  const names = secrets.map(([n]) => n);
  checkPushable(names);
  ghPreflight(ctx);
  const base = { repo: gt.repo, target: auditTarget(gt) };
  // Values leaving for GitHub are plaintext egress, as for dump: the policy is asked
  // before the question and before anything is sent; a refusal is recorded and thrown.
  const egress = await enforceEgress(ctx, { command: 'gh_push', target, fields: { ...base, names, count: names.length }, keys: names, reason: opts.reason });

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
  const trimmed = secrets.filter(([, v]) => /[\r\n]$/.test(v)).map(([n]) => n);
  if (trimmed.length > 0) {
    ctx.stderr.write(`lsm: warning: gh drops trailing line breaks from a value; ${trimmed.join(', ')} will reach GitHub without them\n`);
  }

  // The values are about to leave the machine: a push that cannot be recorded does not happen.
  await record(ctx, { event: 'gh_push_intent', ...target, fields: { ...base, names, count: names.length, prune: Boolean(opts.prune), ...(overwrites ? { overwrites_env: overwrites } : {}), ...egress.fields } }, { failClosed: true });
  // A canary pushed to GitHub is a canary read, as in dump: recorded (and shipped) before it leaves.
  await recordCanaryReads(ctx, target, egress.canaries, 'gh_push');

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
