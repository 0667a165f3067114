import { LsmError } from '../errors.js';
import { checkKey } from '../names.js';
import { getterOf } from '../vault.js';
import { requireHome, targetOf } from './common.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[], opts: { reason?: string } = {}): Promise<number> {
  if (args.length === 0) throw new LsmError('usage', 'missing KEY', { hint: 'lsm get [app] [env] KEY' });
  const { target, rest } = await targetOf(ctx, args, 1);
  const key = checkKey(rest[0]);
  requireHome(ctx);
  const value = await (await getterOf(ctx)).get(target, key, opts.reason ?? ctx.env.LSM_REASON);
  ctx.stdout.write(ctx.stdout.isTTY ? `${value}\n` : value);
  return 0;
}
