import { usage } from '../errors.js';
import { loadStore } from '../store.js';
import { record } from '../audit/record.js';
import { identityOf, targetOf } from './common.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[]): Promise<number> {
  if (args.length > 2) throw usage('too many arguments', 'lsm list [app] [env]');
  const { target } = await targetOf(ctx, args, 0);
  const id = await identityOf(ctx);
  const { doc } = await loadStore(ctx.home, target, id);
  const keys = doc.keys();
  await record(ctx, { event: 'list', ...target, fields: { count: keys.length } }, { failClosed: false });
  if (keys.length > 0) ctx.stdout.write(`${keys.join('\n')}\n`);
  return 0;
}
