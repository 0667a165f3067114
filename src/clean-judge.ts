import { readFileSync } from 'node:fs';
import { LsmError } from './errors.js';
import { parseEnv, type EnvDocument } from './dotenv.js';
import { loadStore, warnTo } from './store.js';
import { record } from './audit/record.js';
import { sha256Hex } from './audit/chain.js';
import { decodeEnv, findEnvFiles, wipeFile, type EnvFile } from './envfiles.js';
import { identityOf } from './commands/common.js';
import type { Context } from './context.js';
import type { Target } from './resolve.js';
import type { CleanJudged, CleanRemoved, CleanVerdict } from './vault.js';

/**
 * The store's side of `lsm clean`, where the key is (this process, or the keeper, which
 * reads the caller's cwd as the kernel names it): which .env files hold only values
 * the store has, compared value by value, and their removal. Only names and reasons
 * leave here, never a value.
 */
interface Verdict extends CleanVerdict {
  file: EnvFile;
}

async function storeOf(ctx: Context, target: Target): Promise<{ stored: Map<string, string>; comments: Set<string> }> {
  const { doc } = await loadStore(ctx.home, target, await identityOf(ctx), { warn: warnTo(ctx) });
  return { stored: doc.toMap(), comments: new Set(doc.comments().map((c) => c.text)) };
}

export async function judgeClean(ctx: Context, target: Target): Promise<CleanJudged> {
  const { stored, comments } = await storeOf(ctx, target);
  const verdicts = findEnvFiles(ctx.cwd).map((f) => judge(f, stored, comments));
  const safe = verdicts.filter((v) => v.safe).map((v) => v.name);
  const kept = verdicts.filter((v) => !v.safe).map((v) => v.name);
  // Nothing to remove: this judgement is the command's one event. Otherwise it is recorded
  // too (stage judge), before it is told: "identical" against "different value" answers
  // whether a value the caller wrote is the store's, as import's dry run does, whether or
  // not a removal follows.
  if (safe.length === 0) await record(ctx, { event: 'clean', ...target, fields: { removed: [], kept } }, { failClosed: false });
  else await record(ctx, { event: 'clean', ...target, fields: { stage: 'judge', safe, kept } }, { failClosed: true });
  return { cwd: ctx.cwd, verdicts: verdicts.map(({ file: _file, ...v }) => v) };
}

export async function removeClean(ctx: Context, target: Target, req: { files: Array<{ name: string; sha256: string }>; kept: string[] }): Promise<CleanRemoved> {
  const { stored, comments } = await storeOf(ctx, target);
  const found = new Map(findEnvFiles(ctx.cwd).map((f) => [f.name, f]));
  const still: EnvFile[] = [];
  const changed: string[] = [];
  for (const want of req.files) {
    const file = found.get(want.name);
    // Judged again: the file must hold the bytes that were judged, and still only what the store has.
    const v = file && judge(file, stored, comments);
    if (v && v.safe && v.sha256 === want.sha256) still.push(file);
    else changed.push(want.name);
  }
  const removed = still.map((f) => f.name);
  // The verdicts compared file values with the store: recorded before acting on them.
  await record(ctx, { event: 'clean', ...target, fields: { removed, kept: [...req.kept, ...changed] } }, { failClosed: true });
  for (const f of still) wipeFile(f.path);
  return { removed, changed };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Whether removing the file would lose anything the store does not hold. Names only in the reasons, never values. */
function judge(file: EnvFile, stored: Map<string, string>, storedComments: Set<string>): Verdict {
  const kept = (why: string): Verdict => ({ file, name: file.name, safe: false, why });
  if (file.symlink) return kept('(symbolic link; not followed)');
  let bytes: Buffer;
  try {
    bytes = readFileSync(file.path);
  } catch (err) {
    return kept(`(cannot read: ${(err as { code?: string }).code ?? 'error'})`);
  }
  let doc: EnvDocument;
  try {
    doc = parseEnv(decodeEnv(bytes, file.name), file.name);
  } catch (err) {
    return kept(`(${err instanceof LsmError ? err.message : 'does not parse'})`);
  }
  const entries = doc.entries();
  if (entries.length === 0) return kept('(no keys)');
  if (file.links > 1) return kept(`(${plural(file.links - 1, 'other hard link')}: the plaintext would stay there)`);
  // What the entries do not carry, and an import would not bring into the store.
  const shadowed = doc.shadowed();
  if (shadowed.length > 0) return kept(`(an earlier line holds another value of ${shadowed.join(', ')})`);
  // A comment the store lacks would be lost (one that looks like a value above all):
  // an import carries comments, so only a file imported before that, or edited since, has them.
  const lacking = new Set(doc.comments().filter((c) => !storedComments.has(c.text)).map((c) => c.line));
  const commented = doc.commentedValues().filter((n) => lacking.has(n));
  if (commented.length > 0) return kept(`(a comment may hold a value: line ${commented.join(', ')})`);
  if (lacking.size > 0) return kept(`(comments not in the store: line ${[...lacking].join(', ')}; 'lsm import' carries them)`);
  const comments = doc.comments().length;
  const missing = entries.filter(([k]) => !stored.has(k)).map(([k]) => k);
  const differs = entries.filter(([k, v]) => stored.has(k) && stored.get(k) !== v).map(([k]) => k);
  if (missing.length === 0 && differs.length === 0) {
    return { file, name: file.name, sha256: sha256Hex(bytes), safe: true, why: `(${plural(entries.length, 'key')}${comments > 0 ? ` and ${plural(comments, 'comment')}` : ''}, all identical in the store)` };
  }
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`not in the store: ${missing.join(', ')}`);
  if (differs.length > 0) parts.push(`different value: ${differs.join(', ')}`);
  return kept(`(${parts.join('; ')})`);
}
