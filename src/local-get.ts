import { LsmError } from './errors.js';
import { loadStore, warnTo } from './store.js';
import { record } from './audit/record.js';
import { enforceEgress } from './policy.js';
import { recordCanaryReads } from './canary.js';
import { identityOf } from './commands/common.js';
import type { Context } from './context.js';
import type { Target } from './resolve.js';

/**
 * `get` where the key is (an unprotected home's lsm, or the keeper): a module of its own
 * so that the get bundle carries this and not the other operations (local-vault.ts).
 */
export const noStore = (t: Target) => new LsmError('not_found', `no store for ${t.app}/${t.env}`, { hint: "'lsm apps' and 'lsm envs <app>' list what exists" });
export const noKey = (t: Target, key: string) =>
  new LsmError('not_found', `key ${key} not found in ${t.app}/${t.env}`, { hint: `'lsm list ${t.app} ${t.env}' shows the keys it has` });

export async function getSecret(ctx: Context, target: Target, key: string, reason?: string): Promise<string> {
  const id = await identityOf(ctx);
  // The egress policy is asked before anything is decrypted; a refusal is recorded and thrown.
  const egress = await enforceEgress(ctx, { command: 'get', target, fields: { key }, keys: [key], reason });
  const { doc, exists } = await loadStore(ctx.home, target, id, { warn: warnTo(ctx) });
  const value = doc.get(key);
  if (value === undefined) {
    await record(ctx, { event: 'get', ...target, outcome: 'error', fields: { key, reason: exists ? 'not_found' : 'no_store' } }, { failClosed: false });
    // A store that does not exist has no keys to list: say so, as exec and dump do.
    throw exists ? noKey(target, key) : noStore(target);
  }
  // Recorded before it is revealed: a read that cannot be recorded does not happen.
  await record(ctx, { event: 'get', ...target, fields: { key, ...egress.fields } }, { failClosed: true });
  await recordCanaryReads(ctx, target, egress.canaries, 'get');
  return value;
}

