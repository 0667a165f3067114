import { statSync } from 'node:fs';
import { LsmError } from '../errors.js';
import { resolveTarget, splitPositional, type Target } from '../resolve.js';
import { loadIdentity, type Identity } from '../identity.js';
import { updateStore } from '../store.js';
import { record } from '../audit/record.js';
import type { EnvDocument } from '../dotenv.js';
import type { Context } from '../context.js';

/** Fails with a pointer to `lsm init` when the home does not exist yet. */
export function requireHome(ctx: Context): void {
  let isDir = false;
  try {
    isDir = statSync(ctx.home.dir).isDirectory();
  } catch { /* missing */ }
  if (!isDir) {
    throw new LsmError('key_missing', `no lsm home at ${ctx.home.dir}`, { hint: "run 'lsm init' first (or pass --dir)" });
  }
}

/** Resolves `[app] [env]` ahead of `required` trailing arguments. */
export async function targetOf(ctx: Context, args: string[], required: number): Promise<{ target: Target; rest: string[] }> {
  const pos = splitPositional(args, required, ctx.flags);
  const target = await resolveTarget(ctx, pos);
  return { target, rest: pos.rest };
}

export async function identityOf(ctx: Context): Promise<Identity> {
  requireHome(ctx);
  return loadIdentity(ctx.home);
}

/**
 * Changes a store and records it: the event is written under the store's lock just
 * before the save (a change that cannot be recorded does not happen), and a save that
 * then fails is recorded as an error.
 */
export async function changeStore<R>(
  ctx: Context,
  target: Target,
  id: Identity,
  event: string,
  fields: (result: R) => Record<string, unknown>,
  mutate: (doc: EnvDocument) => { changed: boolean; result: R; replace?: EnvDocument },
): Promise<R> {
  let recorded: Record<string, unknown> | undefined;
  try {
    return await updateStore(ctx.home, target, id, mutate, async (result) => {
      const f = fields(result);
      await record(ctx, { event, ...target, fields: f }, { failClosed: true });
      recorded = f;
    });
  } catch (err) {
    if (recorded) {
      await record(ctx, { event, ...target, outcome: 'error', fields: { ...recorded, reason: 'write_failed' } }, { failClosed: false }).catch(() => {});
    }
    throw err;
  }
}
