import { LsmError } from '../errors.js';
import { checkKey } from '../names.js';
import { requireHome } from '../home.js';
import { splitPositional } from '../positional.js';
import type { Context } from '../context.js';
import type { Getter } from '../vault.js';

/** `lsm get` once the getter is chosen: apart from it so that the keeper's get path loads none of the local one. */
export async function getWith(ctx: Context, args: string[], getter: () => Promise<Getter>, reason?: string): Promise<number> {
  if (args.length === 0) throw new LsmError('usage', 'missing KEY', { hint: 'lsm get [app] [env] KEY' });
  const want = splitPositional(args, 1, ctx.flags);
  requireHome(ctx);
  const key = checkKey(want.rest[0]);
  const value = await (await getter()).get(want, key, reason ?? ctx.env.LSM_REASON);
  ctx.stdout.write(ctx.stdout.isTTY ? `${value}\n` : value);
  return 0;
}
