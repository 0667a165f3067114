import { usage } from '../errors.js';
import { vaultOf } from '../vault.js';
import { requireHome, targetOf } from './common.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[]): Promise<number> {
  if (args.length > 2) throw usage('too many arguments', 'lsm list [app] [env]');
  const { target } = await targetOf(ctx, args, 0);
  requireHome(ctx);
  const keys = await (await vaultOf(ctx)).list(target);
  if (keys.length > 0) ctx.stdout.write(`${keys.join('\n')}\n`);
  return 0;
}
