import { getterOf } from '../vault.js';
import { getWith } from './get-with.js';
import type { Context } from '../context.js';

export function run(ctx: Context, args: string[], opts: { reason?: string } = {}): Promise<number> {
  return getWith(ctx, args, () => getterOf(ctx), opts.reason);
}
