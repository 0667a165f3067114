import { LsmError } from '../errors.js';
import { callKeeper } from './client.js';
import type { Context } from '../context.js';

/** One request; a locked home is offered the unlock prompt first when a person is at the terminal. */
export async function callKeeperOrUnlock<T>(ctx: Context, op: string, args: unknown): Promise<T> {
  try {
    return await callKeeper<T>(ctx, op, args);
  } catch (err) {
    if (!(err instanceof LsmError && err.code === 'keeper_locked' && await offerUnlock(ctx))) throw err;
    return callKeeper<T>(ctx, op, args);
  }
}

/**
 * A person at a terminal is offered the unlock prompt inline; anyone else gets the
 * locked error. What the environment says decides only whether to offer: the
 * passphrase is what unlocks, and the keeper classifies the caller itself.
 */
async function offerUnlock(ctx: Context): Promise<boolean> {
  if (!ctx.stdin.isTTY || !ctx.stderr.isTTY) return false;
  const { markerFromEnv } = await import('../audit/agents.js');
  if (markerFromEnv(ctx.env, true).agent) return false;
  ctx.stderr.write(`lsm: ${ctx.home.dir} is protected and locked.\n`);
  const { unlock, IDLE_DEFAULT, TTL_DEFAULT } = await import('./unlock.js');
  const { parseDuration } = await import('../audit/query.js');
  await unlock(ctx, { ttlMs: parseDuration(TTL_DEFAULT)!, idleMs: parseDuration(IDLE_DEFAULT)! });
  return true;
}
