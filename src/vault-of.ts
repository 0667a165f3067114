import { viaKeeper, type Vault } from './vault.js';
import type { Context } from './context.js';

/** Every operation on secrets: in this process, or through the keeper of a protected home. */
export async function vaultOf(ctx: Context): Promise<Vault> {
  if (await viaKeeper(ctx)) return (await import('./keeper/vault.js')).keeperVault(ctx);
  return (await import('./local-vault.js')).localVault(ctx);
}
