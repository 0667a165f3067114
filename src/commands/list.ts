import { usage } from '../errors.js';
import { vaultOf } from '../vault-of.js';
import { listFormat, table } from '../term/table.js';
import { requireHome, targetOf } from './common.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[], opts: { format?: string } = {}): Promise<number> {
  if (args.length > 2) throw usage('too many arguments', 'lsm list [app] [env]');
  const format = listFormat(opts.format, ctx.stdout.isTTY);
  const { target } = await targetOf(ctx, args, 0);
  requireHome(ctx);
  const keys = await (await vaultOf(ctx)).list(target);
  if (format === 'json') ctx.stdout.write(`${JSON.stringify({ app: target.app, env: target.env, keys })}\n`);
  else if (format === 'lines') {
    if (keys.length > 0) ctx.stdout.write(`${keys.join('\n')}\n`);
  } else if (keys.length === 0) ctx.stdout.write(`${target.app}/${target.env} has no keys\n`);
  else ctx.stdout.write(table(['KEY'], keys.map((k) => [k])));
  return 0;
}
