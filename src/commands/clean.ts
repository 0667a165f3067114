import { readFileSync } from 'node:fs';
import { LsmError, usage } from '../errors.js';
import { parseEnv, type EnvDocument } from '../dotenv.js';
import { loadStore } from '../store.js';
import { record } from '../audit/record.js';
import { confirm } from '../term/prompt.js';
import { stdinIsTTY } from '../term/tty.js';
import { decodeEnv, findEnvFiles, wipeFile, type EnvFile } from '../envfiles.js';
import { identityOf, targetOf } from './common.js';
import type { Context } from '../context.js';

interface Verdict {
  file: EnvFile;
  /** The bytes judged, so a file changed after the check is not removed. */
  bytes?: Buffer;
  safe: boolean;
  why: string;
}

/**
 * `clean [app] [env] [--force]`: removes the cwd's .env files whose every key is in the
 * store with the very same value, so removing them loses nothing (the original compared
 * key names only and deleted files with other values). A file without keys, one that
 * does not parse, a symbolic link, one with other hard links, an earlier value of a key
 * or a comment the store does not hold (import carries them) are kept. Files are zeroed before being unlinked,
 * and a file that changed after it was judged is kept.
 */
export async function run(ctx: Context, args: string[], opts: { force?: boolean }): Promise<number> {
  if (args.length > 2) throw usage('too many arguments', 'lsm clean [app] [env] [--force]');
  const { target } = await targetOf(ctx, args, 0);
  const id = await identityOf(ctx);
  const { doc } = await loadStore(ctx.home, target, id);
  const stored = doc.toMap();
  const storedComments = new Set(doc.comments().map((c) => c.text));
  const base = { event: 'clean', ...target };
  const files = findEnvFiles(ctx.cwd);
  const verdicts = files.map((f) => judge(f, stored, storedComments));
  const safe = verdicts.filter((v) => v.safe);
  const out: string[] = [];
  if (files.length === 0) out.push(`No .env files in ${ctx.cwd}.`);
  if (safe.length > 0) {
    out.push(`Safe to remove (every value is in ${target.app}/${target.env}):`);
    for (const v of safe) out.push(`  ${v.file.name}  ${v.why}`);
  }
  const kept = verdicts.filter((v) => !v.safe);
  if (kept.length > 0) {
    out.push('Keeping:');
    for (const v of kept) out.push(`  ${v.file.name}  ${v.why}`);
  }
  if (safe.length === 0 && files.length > 0) out.push('Nothing to remove.');
  ctx.stdout.write(`${out.join('\n')}\n`);
  if (safe.length === 0) {
    await record(ctx, { ...base, fields: { removed: [], kept: kept.map((v) => v.file.name) } }, { failClosed: false });
    return 0;
  }

  const names = safe.map((v) => v.file.name);
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

  // The verdicts compared file values with the store: recorded before acting on them.
  const still = safe.filter((v) => unchanged(v));
  const removed = still.map((v) => v.file.name);
  await record(ctx, { ...base, fields: { removed, kept: [...kept.map((v) => v.file.name), ...names.filter((n) => !removed.includes(n))] } }, { failClosed: true });
  for (const v of safe) {
    if (!still.includes(v)) {
      ctx.stderr.write(`lsm: ${v.file.name} changed since it was checked; kept\n`);
      continue;
    }
    wipeFile(v.file.path);
    ctx.stdout.write(`Removed ${v.file.name}\n`);
  }
  return still.length === safe.length ? 0 : 1;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Whether removing the file would lose anything the store does not hold. Names only in the reasons, never values. */
function judge(file: EnvFile, stored: Map<string, string>, storedComments: Set<string>): Verdict {
  if (file.symlink) return { file, safe: false, why: '(symbolic link; not followed)' };
  let bytes: Buffer;
  try {
    bytes = readFileSync(file.path);
  } catch (err) {
    return { file, safe: false, why: `(cannot read: ${(err as { code?: string }).code ?? 'error'})` };
  }
  let doc: EnvDocument;
  try {
    doc = parseEnv(decodeEnv(bytes, file.name), file.name);
  } catch (err) {
    return { file, safe: false, why: `(${err instanceof LsmError ? err.message : 'does not parse'})` };
  }
  const entries = doc.entries();
  if (entries.length === 0) return { file, safe: false, why: '(no keys)' };
  if (file.links > 1) return { file, safe: false, why: `(${plural(file.links - 1, 'other hard link')}: the plaintext would stay there)` };
  // What the entries do not carry, and an import would not bring into the store.
  const shadowed = doc.shadowed();
  if (shadowed.length > 0) return { file, safe: false, why: `(an earlier line holds another value of ${shadowed.join(', ')})` };
  // A comment the store lacks would be lost (one that looks like a value above all):
  // an import carries comments, so only a file imported before that, or edited since, has them.
  const lacking = new Set(doc.comments().filter((c) => !storedComments.has(c.text)).map((c) => c.line));
  const commented = doc.commentedValues().filter((n) => lacking.has(n));
  if (commented.length > 0) return { file, safe: false, why: `(a comment may hold a value: line ${commented.join(', ')})` };
  if (lacking.size > 0) return { file, safe: false, why: `(comments not in the store: line ${[...lacking].join(', ')}; 'lsm import' carries them)` };
  const comments = doc.comments().length;
  const missing = entries.filter(([k]) => !stored.has(k)).map(([k]) => k);
  const differs = entries.filter(([k, v]) => stored.has(k) && stored.get(k) !== v).map(([k]) => k);
  if (missing.length === 0 && differs.length === 0) return { file, bytes, safe: true, why: `(${plural(entries.length, 'key')}${comments > 0 ? ` and ${plural(comments, 'comment')}` : ''}, all identical in the store)` };
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`not in the store: ${missing.join(', ')}`);
  if (differs.length > 0) parts.push(`different value: ${differs.join(', ')}`);
  return { file, safe: false, why: `(${parts.join('; ')})` };
}

function unchanged(v: Verdict): boolean {
  try {
    return v.bytes !== undefined && readFileSync(v.file.path).equals(v.bytes);
  } catch {
    return false;
  }
}
