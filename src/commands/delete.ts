import { existsSync } from 'node:fs';
import { LsmError } from '../errors.js';
import { storePath } from '../store.js';
import { checkKey } from '../names.js';
import { record } from '../audit/record.js';
import { changeStore, identityOf, targetOf } from './common.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[]): Promise<number> {
  if (args.length === 0) throw new LsmError('usage', 'missing KEY', { hint: 'lsm delete [app] [env] KEY' });
  const { target, rest } = await targetOf(ctx, args, 1);
  const key = checkKey(rest[0]);
  const id = await identityOf(ctx);
  if (!existsSync(storePath(ctx.home, target))) {
    await record(ctx, { event: 'delete', ...target, outcome: 'error', fields: { key, reason: 'no_store' } }, { failClosed: false });
    throw new LsmError('not_found', `no store for ${target.app}/${target.env}`, { hint: "'lsm apps' and 'lsm envs <app>' list what exists" });
  }
  const found = await changeStore(ctx, target, id, 'delete', () => ({ key }), (doc) =>
    doc.has(key) ? { changed: doc.delete(key), result: true } : { changed: false, result: false });
  if (!found) {
    await record(ctx, { event: 'delete', ...target, outcome: 'error', fields: { key, reason: 'not_found' } }, { failClosed: false });
    throw new LsmError('not_found', `key ${key} not found in ${target.app}/${target.env}`, { hint: `'lsm list ${target.app} ${target.env}' shows the keys it has` });
  }
  return 0;
}
