import { LsmError } from '../errors.js';
import { checkKey } from '../names.js';
import { record } from '../audit/record.js';
import { changeStore, identityOf, targetOf } from './common.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[]): Promise<number> {
  if (args.length === 0) throw new LsmError('usage', 'missing KEY', { hint: 'lsm delete [app] [env] KEY' });
  const { target, rest } = await targetOf(ctx, args, 1);
  const key = checkKey(rest[0]);
  const id = await identityOf(ctx);
  const found = await changeStore(ctx, target, id, 'delete', () => ({ key }), (doc) =>
    doc.has(key) ? { changed: doc.delete(key), result: true } : { changed: false, result: false });
  if (!found) {
    await record(ctx, { event: 'delete', ...target, outcome: 'error', fields: { key, reason: 'not_found' } }, { failClosed: false });
    throw new LsmError('not_found', `key ${key} not found in ${target.app}/${target.env}`);
  }
  return 0;
}
