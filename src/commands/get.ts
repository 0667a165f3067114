import { LsmError } from '../errors.js';
import { checkKey } from '../names.js';
import { loadStore } from '../store.js';
import { record } from '../audit/record.js';
import { enforceEgress } from '../policy.js';
import { recordCanaryReads } from '../canary.js';
import { identityOf, targetOf } from './common.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[], opts: { reason?: string } = {}): Promise<number> {
  if (args.length === 0) throw new LsmError('usage', 'missing KEY', { hint: 'lsm get [app] [env] KEY' });
  const { target, rest } = await targetOf(ctx, args, 1);
  const key = checkKey(rest[0]);
  const id = await identityOf(ctx);
  // The egress policy is asked before anything is decrypted; a refusal is recorded and thrown.
  const egress = await enforceEgress(ctx, { command: 'get', target, fields: { key }, keys: [key], reason: opts.reason });
  const { doc, exists } = await loadStore(ctx.home, target, id);
  const value = doc.get(key);
  if (value === undefined) {
    await record(ctx, { event: 'get', ...target, outcome: 'error', fields: { key, reason: exists ? 'not_found' : 'no_store' } }, { failClosed: false });
    // A store that does not exist has no keys to list: say so, as exec and dump do.
    throw exists
      ? new LsmError('not_found', `key ${key} not found in ${target.app}/${target.env}`, { hint: `'lsm list ${target.app} ${target.env}' shows the keys it has` })
      : new LsmError('not_found', `no store for ${target.app}/${target.env}`, { hint: "'lsm apps' and 'lsm envs <app>' list what exists" });
  }
  // Recorded before it is revealed: a read that cannot be recorded does not happen.
  await record(ctx, { event: 'get', ...target, fields: { key, ...egress.fields } }, { failClosed: true });
  await recordCanaryReads(ctx, target, egress.canaries, 'get');
  ctx.stdout.write(ctx.stdout.isTTY ? `${value}\n` : value);
  return 0;
}
