import { LsmError } from '../errors.js';
import { checkKey } from '../names.js';
import { vaultOf } from '../vault-of.js';
import { requireHome, targetOf } from './common.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[]): Promise<number> {
  if (args.length === 0) throw new LsmError('usage', 'missing KEY', { hint: 'lsm delete [app] [env] KEY' });
  const { target, rest } = await targetOf(ctx, args, 1);
  const key = checkKey(rest[0]);
  requireHome(ctx);
  await (await vaultOf(ctx)).delete(target, key);
  return 0;
}
