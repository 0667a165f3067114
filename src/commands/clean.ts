import { LsmError, usage } from '../errors.js';
import { record } from '../audit/record.js';
import { confirm } from '../term/prompt.js';
import { stdinIsTTY } from '../term/tty.js';
import { targetOf } from './common.js';
import { vaultOf } from '../vault-of.js';
import type { Context } from '../context.js';

/**
 * `clean [app] [env] [--force]`: removes the cwd's .env files whose every key is in the
 * store with the very same value, so removing them loses nothing (the original compared
 * key names only and deleted files with other values). A file without keys, one that
 * does not parse, a symbolic link, one with other hard links, an earlier value of a key
 * or a comment the store does not hold (import carries them) are kept. Files are zeroed before being unlinked,
 * and a file that changed after it was judged is kept.
 *
 * The comparison needs the values, so it runs where the key is (src/clean-judge.ts):
 * in a protected home the keeper judges and removes the files of this process's cwd;
 * this command shows the verdicts and asks.
 */
export async function run(ctx: Context, args: string[], opts: { force?: boolean }): Promise<number> {
  if (args.length > 2) throw usage('too many arguments', 'lsm clean [app] [env] [--force]');
  const { target } = await targetOf(ctx, args, 0);
  const vault = await vaultOf(ctx);
  const { cwd, verdicts } = await vault.judgeClean(target);
  const base = { event: 'clean', ...target };
  const safe = verdicts.filter((v) => v.safe);
  const kept = verdicts.filter((v) => !v.safe);
  const out: string[] = [];
  if (verdicts.length === 0) out.push(`No .env files in ${cwd}.`);
  if (safe.length > 0) {
    out.push(`Safe to remove (every value is in ${target.app}/${target.env}):`);
    for (const v of safe) out.push(`  ${v.name}  ${v.why}`);
  }
  if (kept.length > 0) {
    out.push('Keeping:');
    for (const v of kept) out.push(`  ${v.name}  ${v.why}`);
  }
  if (safe.length === 0 && verdicts.length > 0) out.push('Nothing to remove.');
  ctx.stdout.write(`${out.join('\n')}\n`);
  // Nothing safe: the judgement recorded the command's event.
  if (safe.length === 0) return 0;

  const names = safe.map((v) => v.name);
  if (!opts.force) {
    if (!stdinIsTTY()) {
      await record(ctx, { ...base, outcome: 'error', fields: { removed: [], reason: 'not_confirmed' } }, { failClosed: false });
      throw new LsmError('usage', 'not removing anything without a terminal to confirm on', { hint: 'pass --force to remove the files listed as safe', exit: 1 });
    }
    const yes = await confirm(ctx.stdin, ctx.stderr, `Remove ${names.length === 1 ? names[0] : `these ${names.length} files`}?`);
    if (!yes) {
      await record(ctx, { ...base, outcome: 'error', fields: { removed: [], reason: 'not_confirmed' } }, { failClosed: false });
      ctx.stderr.write('lsm: aborted: nothing removed\n');
      return 1;
    }
  }

  const { removed, changed } = await vault.removeClean(target, {
    files: safe.map((v) => ({ name: v.name, sha256: v.sha256 ?? '' })),
    kept: kept.map((v) => v.name),
  });
  for (const name of names) {
    if (changed.includes(name)) ctx.stderr.write(`lsm: ${name} changed since it was checked; kept\n`);
    else if (removed.includes(name)) ctx.stdout.write(`Removed ${name}\n`);
  }
  return removed.length === safe.length ? 0 : 1;
}
