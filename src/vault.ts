import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from './context.js';
import type { Target } from './resolve.js';
import type { Positional } from './positional.js';
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
  /** A whole store's text for `dump` or `gh push`: canaries left out unless asked for, the policy asked, the event recorded. */
  reveal(target: Target, req: RevealRequest): Promise<Revealed>;
  /** Merges .env text into a store (import), or compares it (dry run); the event recorded either way. */
  importText(target: Target, req: ImportRequest): Promise<ImportResult>;
  /** Adds a canary (a generated decoy, registered first) or removes one. */
  canary(target: Target, req: CanaryRequest): Promise<void>;
  /** The store's text for `lsm edit`: the policy asked as for dump, the open recorded (stage open). */
  openEdit(target: Target, req: { reason?: string }): Promise<EditOpened>;
  /**
   * Saves an edit under the store's lock (stage save): the edited text as written, or,
   * when the store no longer holds `original`, a key-by-key merge, refused on a conflict.
   * `original` must come with the token openEdit gave for it (an HMAC under a secret of
   * the process that revealed it): a text never revealed cannot be saved over.
   */
  saveEdit(target: Target, req: { original: string; edited: string; token: string }): Promise<EditSaved>;
  /** `lsm clean`: which .env files of the caller's cwd hold only values the store has (recorded when none is). */
  judgeClean(target: Target): Promise<CleanJudged>;
  /** Removes (zeroes, unlinks) the files judged safe, those still unchanged and still safe; recorded first. */
  removeClean(target: Target, req: { files: Array<{ name: string; sha256: string }>; kept: string[] }): Promise<CleanRemoved>;
  /**
   * The key names `gh push` would send (canaries left out unless asked for) in byte
   * order, for its question, and `gh status`'s comparison: the policy asked for a push;
   * nothing recorded when it allows (the push's own event follows its confirmation).
   */
  ghNames(target: Target, req: GhNamesRequest): Promise<string[]>;
}

export interface EditOpened {
  text: string;
  exists: boolean;
  /** Names the revealed text: a save must bring it back (a text the caller was not shown cannot be saved over). */
  token: string;
}

export interface EditSaved {
  how: 'replaced' | 'merged' | 'nothing';
  counts: { added: number; changed: number; removed: number; unchanged: number };
}

export interface CleanVerdict {
  name: string;
  safe: boolean;
  /** Names only, never a value. */
  why: string;
  /** The SHA-256 of the bytes judged, for a safe file: one changed after the judgement is kept. */
  sha256?: string;
}

export interface CleanJudged {
  cwd: string;
  verdicts: CleanVerdict[];
}

export interface CleanRemoved {
  removed: string[];
  /** Judged safe, then changed (or no longer safe) before the removal: kept. */
  changed: string[];
}

export interface GhNamesRequest {
  command: 'gh_push' | 'gh_status';
  withCanaries?: boolean;
  reason?: string;
  /** The push's fields of a refusal (repo, target). */
  fields: Record<string, unknown>;
}

export type CanaryRequest =
  | { action: 'add'; name: string; like: import('./canary.js').Kind }
  | { action: 'remove'; name: string };

export interface RevealRequest {
  command: 'dump' | 'gh_push';
  /** The event recorded (dump, gh_push_intent) and its fields beside keys and count. */
  event: string;
  fields: Record<string, unknown>;
  withCanaries?: boolean;
  reason?: string;
}

export interface Revealed {
  /** The store's text (comments and order kept), canaries removed unless asked for. */
  text: string;
  keys: string[];
  /** What the event recorded beside the request's fields (reason, policy). */
  fields: Record<string, unknown>;
}

export interface ImportRequest {
  text: string;
  /** Where the text came from, for messages (a file's base name, or '-'). */
  label: string;
  fields: Record<string, unknown>;
  dryRun: boolean;
}

export interface ImportResult {
  added: string[];
  changed: string[];
  unchanged: string[];
  comments: number;
  /** Dry run: each incoming key with +, ~ or =. */
  lines?: string[];
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

/** Whether this process must go through the keeper: a protected home, outside the keeper. */
export async function viaKeeper(ctx: Context): Promise<boolean> {
  const { custody } = await import('./custody.js');
  if (custody() || !isProtected(ctx.home)) return false;
  // A plaintext key beside the protected one defeats the protection: neither is used.
  if (existsSync(ctx.home.key)) throw (await import('./identity.js')).bothKeysError(ctx.home);
  return true;
}

/** `get` with its store still to be chosen: where the key is, the store is chosen too. */
export interface Getter {
  get(want: Positional, key: string, reason?: string): Promise<string>;
}

/**
 * The one operation `get` needs. Apart from vaultOf (src/vault-of.ts) so that the get
 * bundle, which the launcher starts for every `lsm get`, holds none of the others. Through
 * the keeper the store is chosen by the keeper, from the caller's cwd as /proc shows it:
 * the client then reads no config and loads no crypto, which is what keeps it quick.
 */
export async function getterOf(ctx: Context): Promise<Getter> {
  if (await viaKeeper(ctx)) {
    const [{ keeperGetter }, { callKeeperOrUnlock }] = await Promise.all([import('./keeper/getter.js'), import('./keeper/offer-unlock.js')]);
    return keeperGetter(ctx, callKeeperOrUnlock);
  }
  const [{ getSecret }, { resolveTarget }] = await Promise.all([import('./local-get.js'), import('./resolve.js')]);
  return { get: async (want, key, reason) => getSecret(ctx, await resolveTarget(ctx, want), key, reason) };
}
