import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LsmError } from './errors.js';
import { parseEnv, type EnvDocument } from './dotenv.js';
import { refuseNul } from './envfiles.js';
import { loadStore, warnTo } from './store.js';
import { record } from './audit/record.js';
import { enforceEgress } from './policy.js';
import { recordCanaryReads } from './canary.js';
import { changeStore, identityOf } from './commands/common.js';
import type { Context } from './context.js';
import type { Target } from './resolve.js';
import type { EditOpened, EditSaved } from './vault.js';

/**
 * The store's side of `lsm edit`, where the key is (this process, or the keeper): the
 * text revealed for the editor, and the edited text saved. The editor, the temporary
 * file and the signals stay with the command (src/commands/edit.ts).
 */
const SHOWN = 'edited text';

// A save must name a text this process revealed: otherwise whether a save replaces or
// merges would tell a caller whether a text it guessed is the store's, unrecorded.
const SECRET = randomBytes(32);

function tokenOf(target: Target, text: string): string {
  return createHmac('sha256', SECRET).update(`${target.app}\0${target.env}\0`).update(text, 'utf8').digest('hex');
}

export async function openEdit(ctx: Context, target: Target, req: { reason?: string }): Promise<EditOpened> {
  const id = await identityOf(ctx);
  const { doc: before, exists } = await loadStore(ctx.home, target, id, { warn: warnTo(ctx) });
  // Opening the editor reveals every value: the egress policy first, canaries recorded as read.
  const fields = { stage: 'open', count: before.size, keys: before.keys() };
  const egress = await enforceEgress(ctx, { command: 'edit', target, fields, keys: before.keys(), reason: req.reason });
  await record(ctx, { event: 'edit', ...target, fields: { ...fields, ...egress.fields } }, { failClosed: true });
  await recordCanaryReads(ctx, target, egress.canaries, 'edit');
  const text = before.serialize();
  return { text, exists, token: tokenOf(target, text) };
}

export async function saveEdit(ctx: Context, target: Target, req: { original: string; edited: string; token: string }): Promise<EditSaved> {
  const id = await identityOf(ctx);
  let reached = false;
  try {
    const want = Buffer.from(tokenOf(target, req.original), 'hex');
    const got = Buffer.from(/^[0-9a-f]{64}$/.test(req.token) ? req.token : '', 'hex');
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      throw new LsmError('denied', `this edit of ${target.app}/${target.env} was not opened by the keeper that is running now (it restarted, or was locked, while you were editing); nothing was saved`, {
        hint: "run 'lsm edit' again",
      });
    }
    const before = parseEnv(req.original, 'the revealed text');
    const edited = parseEnv(req.edited, SHOWN);
    refuseNul(edited, SHOWN);
    const ours = diff(before, edited);
    const counts = { added: ours.added.length, changed: ours.changed.length, removed: ours.removed.length, unchanged: ours.unchanged.length };
    const how = await changeStore<EditSaved['how']>(ctx, target, id, 'edit', () => {
      reached = true;
      return { stage: 'save', ...counts, keys: [...ours.added, ...ours.changed, ...ours.removed] };
    }, (current) => apply(current, req.original, before, edited, ours, target));
    return { how, counts };
  } catch (err) {
    // A save refused before its event (a conflict, the lock): recorded here, where the event is.
    if (!reached) await record(ctx, { event: 'edit', ...target, outcome: 'error', fields: { reason: err instanceof LsmError ? err.code : 'internal' } }, { failClosed: false });
    throw err;
  }
}

interface Diff {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
}

function diff(from: EnvDocument, to: EnvDocument): Diff {
  const d: Diff = { added: [], changed: [], removed: [], unchanged: [] };
  const old = from.toMap();
  for (const [k, v] of to.entries()) {
    const was = old.get(k);
    (was === undefined ? d.added : was === v ? d.unchanged : d.changed).push(k);
  }
  for (const k of old.keys()) if (!to.has(k)) d.removed.push(k);
  return d;
}

/**
 * The save, under the lock: the user's text as is when the store still holds what was
 * revealed (compared whole), or a per-key merge when someone else wrote meanwhile,
 * refused when both sides changed the same key: a concurrent change is never lost.
 */
function apply(current: EnvDocument, original: string, before: EnvDocument, edited: EnvDocument, ours: Diff, target: Target): { changed: boolean; result: EditSaved['how']; replace?: EnvDocument } {
  if (current.serialize() === original) return { changed: true, result: 'replaced', replace: edited };
  const theirs = diff(before, current);
  const touched = new Set([...theirs.added, ...theirs.changed, ...theirs.removed]);
  const conflicts = [...ours.added, ...ours.changed, ...ours.removed].filter((k) => touched.has(k));
  if (conflicts.length > 0) {
    throw new LsmError('locked', `${target.app}/${target.env} changed while you were editing, and ${conflicts.join(', ')} changed on both sides; your edit was not saved`, {
      hint: "run 'lsm edit' again to start from the current values",
    });
  }
  for (const k of [...ours.added, ...ours.changed]) current.set(k, edited.get(k)!);
  for (const k of ours.removed) current.delete(k);
  const changed = ours.added.length + ours.changed.length + ours.removed.length > 0;
  return { changed, result: changed ? 'merged' : 'nothing' };
}
