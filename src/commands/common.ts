import { existsSync } from 'node:fs';
import { requireHome } from '../home.js';
import { LsmError } from '../errors.js';
import { resolveTarget, splitPositional, type Target } from '../resolve.js';
import { loadIdentity, type Identity } from '../identity.js';
import { rotationJournal, updateStore } from '../store.js';
import { record } from '../audit/record.js';
import { canaryNames, retireCanaries } from '../canary.js';
import type { EnvDocument } from '../dotenv.js';
import type { Context } from '../context.js';

export { requireHome };

/** Resolves `[app] [env]` ahead of `required` trailing arguments. */
export async function targetOf(ctx: Context, args: string[], required: number): Promise<{ target: Target; rest: string[] }> {
  const pos = splitPositional(args, required, ctx.flags);
  requireHome(ctx);
  const target = await resolveTarget(ctx, pos);
  return { target, rest: pos.rest };
}

export async function identityOf(ctx: Context): Promise<Identity> {
  requireHome(ctx);
  // Every command reaches a protected home's key through the keeper (src/vault.ts); here,
  // outside it, loadIdentity finds no key.txt and says the home is protected and locked.
  // A rotation killed half-way leaves its journal; every store stays readable, but the
  // next 'lsm key rotate' must finish it. Said here, by every command that uses the key.
  if (existsSync(rotationJournal(ctx.home))) {
    ctx.stderr.write("lsm: warning: a key rotation is under way or was interrupted (key.rotating): 'lsm key rotate' finishes it\n");
  }
  return loadIdentity(ctx.home);
}

/**
 * Changes a store and records it: the event is written under the store's lock just
 * before the save (a change that cannot be recorded does not happen), and a save that
 * then fails is recorded as an error. A canary whose decoy the change replaced or
 * removed stops being one (its registry entry goes, the event names it in
 * `canaries_retired`): a real secret set later under that name must not be left out
 * of exec, recorded as a canary read, or deleted by `canary remove`.
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
  const decoys = event.startsWith('canary.') ? new Set<string>() : canaryNames(ctx.home, target, (m) => ctx.stderr.write(m));
  let retired: string[] = [];
  const watched = (doc: EnvDocument) => {
    const before = [...decoys].map((n) => doc.get(n));
    const r = mutate(doc);
    const after = r.replace ?? doc;
    retired = [...decoys].filter((n, i) => after.get(n) !== before[i]);
    return r;
  };
  try {
    const result = await updateStore(ctx.home, target, id, watched, async (res, store) => {
      const own = retired.length > 0 ? { ...fields(res), canaries_retired: retired } : fields(res);
      // The log vouches for the store file by this digest: a file found with another was not written by lsm.
      const f = { ...own, store_sha256: store.sha256 };
      await record(ctx, { event, ...target, fields: f }, { failClosed: true });
      recorded = f;
    });
    if (retired.length > 0) {
      await retireCanaries(ctx.home, target, retired);
      ctx.stderr.write(`lsm: ${retired.join(', ')} ${retired.length === 1 ? 'was a canary; it is' : 'were canaries; they are'} no longer (the decoy was replaced or removed)\n`);
    }
    return result;
  } catch (err) {
    if (recorded) {
      // Without the digest: this row vouches for no file.
      const { store_sha256: _unwritten, ...rest } = recorded;
      await record(ctx, { event, ...target, outcome: 'error', fields: { ...rest, reason: 'write_failed' } }, { failClosed: false }).catch(() => {});
    }
    throw err;
  }
}
