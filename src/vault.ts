import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from './context.js';
import type { Target } from './resolve.js';
import type { ExecGuard } from './policy.js';

/**
 * The operations on secrets, behind one interface with two implementations: in this
 * process for an unprotected home (src/local-vault.ts), and through the keeper for a
 * protected one (src/keeper/client.ts), where the identity, the policy decision and
 * the audit record live in the keeper. Commands call these and never know which.
 * Each operation decides, decrypts and records in one step: there is no way to ask
 * for plaintext that skips the policy or the event.
 */
export interface Vault {
  /** One value, for `get`: the egress policy is asked and the read recorded first. */
  get(target: Target, key: string, reason?: string): Promise<string>;
  /** The key names of a store (recorded as `list`). */
  list(target: Target): Promise<string[]>;
  set(target: Target, key: string, value: string, source: string): Promise<'added' | 'changed' | 'unchanged'>;
  delete(target: Target, key: string): Promise<void>;
  /** What `exec` injects, and how: the program resolved, canaries left out, masking decided, the run recorded. */
  openExec(target: Target, req: ExecRequest): Promise<ExecOpened>;
}

export interface ExecRequest {
  /** argv[0] as given, and the PATH and cwd it is looked up in. */
  program: string;
  path: string;
  pristine: boolean;
  only?: string[];
  mask?: boolean;
  withCanaries?: boolean;
  reason?: string;
}

export interface ExecOpened {
  file: string;
  secrets: Array<[string, string]>;
  guard: ExecGuard;
}

/** A home whose identity is only passphrase-encrypted: its secrets go through the keeper. */
export function isProtected(home: { dir: string }): boolean {
  return existsSync(join(home.dir, 'key.age'));
}

export async function vaultOf(ctx: Context): Promise<Vault> {
  const { custody } = await import('./custody.js');
  if (!custody() && isProtected(ctx.home)) {
    const { keeperVault } = await import('./keeper/client.js');
    return keeperVault(ctx);
  }
  const { localVault } = await import('./local-vault.js');
  return localVault(ctx);
}
