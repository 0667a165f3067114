import { LsmError, usage } from '../errors.js';
import { parseDuration } from '../audit/query.js';
import { isProtected } from '../vault.js';
import { requireHome } from './common.js';
import type { Context } from '../context.js';

/** gpg-agent's cache is 10 min idle and 2 h at most; an agent session runs longer, so: */
export const IDLE_DEFAULT = '30m';
export const TTL_DEFAULT = '8h';

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

export async function unlock(ctx: Context, o: { ttlMs: number; idleMs: number; acknowledge?: boolean }): Promise<void> {
  const { readPassphrase } = await import('../term/passphrase.js');
  const passphrase = await readPassphrase(ctx, `Passphrase for ${ctx.home.dir}: `, { confirm: false });
  const { startKeeper } = await import('../keeper/start.js');
  const pid = await startKeeper(ctx.home, passphrase, o);
  const mins = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`);
  ctx.stderr.write(`lsm: unlocked ${ctx.home.dir} (keeper pid ${pid}; it locks after ${mins(o.idleMs)} idle, ${mins(o.ttlMs)} at the latest, or on 'lsm lock')\n`);
}
