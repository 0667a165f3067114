import { LsmError, usage } from '../errors.js';
import { parseDuration } from '../audit/query.js';
import { isProtected } from '../vault.js';
import { requireHome } from './common.js';
import { IDLE_DEFAULT, TTL_DEFAULT, unlock } from '../keeper/unlock.js';
import type { Context } from '../context.js';


function duration(text: string | undefined, fallback: string, flag: string): number {
  const ms = parseDuration(text ?? fallback);
  if (ms === undefined || ms < 1000 || ms > 7 * 86_400_000) throw usage(`${flag} takes a duration from 1s to 7d, such as 30m or 8h`);
  return ms;
}

/** `lsm unlock [--ttl D] [--idle D] [--acknowledge]`: the passphrase, once, for a keeper that holds the key. */
export async function run(ctx: Context, _args: string[], opts: { ttl?: string; idle?: string; acknowledge?: boolean }): Promise<number> {
  requireHome(ctx);
  if (!isProtected(ctx.home)) {
    throw new LsmError('usage', `the lsm home ${ctx.home.dir} is not protected: its key is in key.txt, readable without a passphrase`, {
      hint: "'lsm key protect' encrypts it with a passphrase; the keeper then holds it",
    });
  }
  await unlock(ctx, { ttlMs: duration(opts.ttl, TTL_DEFAULT, '--ttl'), idleMs: duration(opts.idle, IDLE_DEFAULT, '--idle'), acknowledge: opts.acknowledge });
  return 0;
}
