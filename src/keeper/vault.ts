import { callKeeperOrUnlock } from './offer-unlock.js';
import type { Context } from '../context.js';
import type { Vault } from '../vault.js';

/**
 * The client side of a protected home: every operation on secrets is one request to
 * the keeper, which decides, decrypts and records. The client loads no crypto, reads
 * no key and takes no lock; what it says about itself decides nothing.
 */
export function keeperVault(ctx: Context): Vault {
  const ask = <T>(op: string, args: unknown): Promise<T> => callKeeperOrUnlock<T>(ctx, op, args);
  return {
    get: (target, key, reason) => ask('get', { target, key, reason }),
    list: (target) => ask('list', { target }),
    set: (target, key, value, source) => ask('set', { target, key, value, source }),
    delete: (target, key) => ask('delete', { target, key }),
    openExec: (target, req) => ask('exec', { target, req }),
    reveal: (target, req) => ask('reveal', { target, req }),
    importText: (target, req) => ask('import', { target, req }),
    canary: (target, req) => ask('canary', { target, req }),
    openEdit: (target, req) => ask('edit.open', { target, req }),
    saveEdit: (target, req) => ask('edit.save', { target, req }),
    judgeClean: (target) => ask('clean.judge', { target }),
    removeClean: (target, req) => ask('clean.remove', { target, req }),
    ghNames: (target, req) => ask('gh.names', { target, req }),
  };
}
