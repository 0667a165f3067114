import { lstatSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { LsmError, errno, ioError } from './errors.js';
import { fsyncDir, readRegular, writeFileAtomic } from './atomic.js';
import { withLockAsync } from './lock.js';
import { sha256Hex } from './audit/chain.js';
import { forgetFile, memoFile } from './file-memo.js';
import { parseEnv, type EnvDocument } from './dotenv.js';
import type { Home } from './home.js';
import type { Identity } from './identity.js';
import type { Target } from './resolve.js';

/**
 * One store: `<app>.<env>.age` in the home, an age file whose plaintext is the .env
 * text of that app and env. A missing file is an empty store. Changes happen under
 * a per-store lock and land atomically, so concurrent writers never lose an update.
 */
export function storePath(home: Home, t: Target): string {
  return home.store(t.app, t.env);
}

function readCipher(path: string): Uint8Array | undefined {
  try {
    return readRegular(path, { nofollow: true, singleLink: true });
  } catch (err) {
    const code = errno(err);
    if (code === 'ENOENT') return undefined;
    if (code === 'ENLINKS') {
      throw new LsmError('io', `store ${path} has ${(err as { nlink?: number }).nlink} hard links; refusing to use it`, {
        hint: "another name for this file (a copy in another home, say) sees every value written here; find it with 'find / -samefile' and remove it, or replace the store with a copy ('cp', then 'mv' over it)",
      });
    }
    if (code === 'ELOOP') {
      throw new LsmError('io', `store ${path} is a symbolic link; refusing to follow it`, {
        hint: 'store files must be regular files inside the lsm home',
      });
    }
    throw ioError('read', path, err);
  }
}

async function decryptStore(path: string, data: Uint8Array, id: Identity): Promise<EnvDocument> {
  return parsePlain(path, await decryptBytes(path, data, id));
}

async function decryptBytes(path: string, data: Uint8Array, id: Identity): Promise<Uint8Array> {
  const age = await import('./age/age.js');
  try {
    return age.decrypt(data, [id.parsed ?? id.identity]);
  } catch (err) {
    const kind = (err as { kind?: string }).kind;
    if (kind === 'no_identity_matched') {
      throw new LsmError('decrypt', `cannot decrypt ${path}: it was not encrypted to the key in this lsm home`, {
        hint: "the key was replaced (lsm init --force?) or the file comes from another home; restore the matching key.txt",
      });
    }
    if (kind === 'unsupported') {
      throw new LsmError('decrypt', `cannot decrypt ${path}: it is not an X25519 age file (passphrase or another recipient type)`, {
        hint: 'lsm stores are encrypted to the key in key.txt; decrypt this file with age and import it',
      });
    }
    throw new LsmError('decrypt', `cannot decrypt ${path}: the file is corrupt or truncated`, {
      hint: 'restore it from a backup; other stores are not affected',
    });
  }
}

function parsePlain(path: string, plain: Uint8Array): EnvDocument {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    throw new LsmError('decrypt', `store ${path} does not hold UTF-8 text`);
  }
  return parseEnv(text, path);
}

export interface LoadOptions {
  /** The caller holds the store's lock already (updateStore). */
  locked?: boolean;
  /** Where the warning of a store changed out of band goes; stderr by default. */
  warn?: (line: string) => void;
}

/**
 * The warning of a store changed out of band, to the command's own stderr: in the keeper
 * that is the reply's, which the client prints, not the keeper's (nobody reads it).
 */
export function warnTo(ctx: { stderr: { write(s: string): unknown } }): (line: string) => void {
  return (line) => { ctx.stderr.write(line); };
}

export async function loadStore(home: Home, t: Target, id: Identity, opts: LoadOptions = {}): Promise<{ doc: EnvDocument; exists: boolean }> {
  const path = storePath(home, t);
  // In the keeper, the file as last read while its stat is unchanged (src/file-memo.ts): the
  // ciphertext's digest is still checked against the log at every load, and the plaintext
  // is what those very bytes decrypted to, under this identity.
  const read = memoFile(path, 'store', (): KeptStore | undefined => {
    const data = readCipher(path);
    return data && { data, sha256: sha256Hex(Buffer.from(data.buffer, data.byteOffset, data.byteLength)) };
  }, { nofollow: true, wipe: (k) => k?.plain?.fill(0) });
  if (read === undefined) return { doc: parseEnv('', path), exists: false };
  const { checkStore } = await import('./audit/store-check.js');
  checkStore(home, t, read.sha256, opts);
  if (read.plain === undefined || read.id !== id) {
    const plain = await decryptBytes(path, read.data, id);
    read.plain?.fill(0);
    read.plain = plain;
    read.id = id;
  }
  return { doc: parsePlain(path, read.plain), exists: true };
}

interface KeptStore {
  data: Uint8Array;
  sha256: string;
  plain?: Uint8Array;
  id?: Identity;
}

async function encryptStore(home: Home, doc: EnvDocument, id: Identity): Promise<Uint8Array> {
  const age = await import('./age/age.js');
  return age.encrypt(Buffer.from(doc.serialize(), 'utf8'), writeRecipients(home, id));
}

/**
 * The recipients a write under the store lock encrypts to: the writer's key, and both
 * keys of a rotation in progress (rotate.ts), so that a store written while one runs
 * stays readable whichever key.txt holds when the rotation reaches it or is killed. A
 * writer whose key was replaced after it started (it read key.txt before a rotation's
 * switch) would write a store no kept key opens once the rotation ends: it stops.
 */
function writeRecipients(home: Home, id: Identity): string[] {
  let key: string | undefined;
  try {
    key = readFileSync(home.key, 'utf8');
  } catch { /* a home whose key lives elsewhere (a keeper) */ }
  if (key !== undefined && !key.includes(id.identity)) {
    throw new LsmError('locked', `the key in ${home.key} was replaced while this command ran (a key rotation?); nothing was written`, {
      hint: 'run the command again',
    });
  }
  const out = [id.recipient];
  for (const r of rotationRecipients(home)) if (!out.includes(r)) out.push(r);
  return out;
}

/** The file a key rotation keeps while it runs: see rotate.ts. */
export function rotationJournal(home: Home): string {
  return `${home.dir}/key.rotating`;
}

// The public keys named in the journal's comment lines; none when no rotation runs.
function rotationRecipients(home: Home): string[] {
  let text: string;
  try {
    text = readFileSync(rotationJournal(home), 'utf8');
  } catch {
    return [];
  }
  return [...text.matchAll(/^# (?:public key|previous public key): (age1[0-9a-z]+)$/gm)].map((m) => m[1]);
}

/**
 * Loads, changes and saves one store under its lock. `mutate` says whether it changed
 * anything; an unchanged store is not rewritten. `beforeSave` runs under the lock just
 * before the write (the audit record, which names the SHA-256 of the ciphertext to be
 * written), and may refuse by throwing. `replace` saves
 * another document instead (`edit` writes the user's text, comments and order included).
 */
export async function updateStore<R>(
  home: Home,
  t: Target,
  id: Identity,
  mutate: (doc: EnvDocument) => { changed: boolean; result: R; replace?: EnvDocument },
  beforeSave?: (result: R, store: { sha256: string }) => Promise<void>,
): Promise<R> {
  const path = storePath(home, t);
  return withLockAsync(`${path}.lock`, async () => {
    const { doc } = await loadStore(home, t, id, { locked: true });
    const { changed, result, replace } = mutate(doc);
    if (changed) {
      // Encrypted first, so the event records the SHA-256 of the very bytes then written.
      const cipher = await encryptStore(home, replace ?? doc, id);
      await beforeSave?.(result, { sha256: sha256Hex(Buffer.from(cipher.buffer, cipher.byteOffset, cipher.byteLength)) });
      forgetFile(path);
      writeFileAtomic(path, cipher, 0o600);
    }
    return result;
  });
}

/**
 * Re-encrypts one store under its lock: opened with any of `from`, written to `to`. A
 * store that no longer exists is skipped. Used by key rotation only.
 */
export async function reencryptStore(home: Home, t: Target, from: Identity[], to: string[]): Promise<boolean> {
  const path = storePath(home, t);
  return withLockAsync(`${path}.lock`, async () => {
    const data = readCipher(path);
    if (data === undefined) return false;
    const age = await import('./age/age.js');
    let plain: Uint8Array;
    try {
      plain = age.decrypt(data, from.map((i) => i.parsed ?? i.identity));
    } catch {
      // The message of a normal read names the cause (wrong key, corrupt file).
      await decryptStore(path, data, from[0]);
      throw new LsmError('decrypt', `cannot decrypt ${path}`);
    }
    try {
      // A store swapped out of band is reported before the rotation adopts it, and the new
      // ciphertext's digest is recorded before it is written, as for every store write:
      // otherwise each rotated store would read as changed outside lsm.
      const { checkStore } = await import('./audit/store-check.js');
      checkStore(home, t, sha256Hex(Buffer.from(data.buffer, data.byteOffset, data.byteLength)), { locked: true });
      const cipher = age.encrypt(plain, to);
      const { appendEvent } = await import('./audit/log.js');
      appendEvent(home.audit, {
        event: 'store.reencrypted', ...t, localOnly: true,
        fields: { store_sha256: sha256Hex(Buffer.from(cipher.buffer, cipher.byteOffset, cipher.byteLength)) },
      }, { configPath: home.config });
      forgetFile(path);
      writeFileAtomic(path, cipher, 0o600);
    } finally {
      plain.fill(0);
    }
    return true;
  });
}

/**
 * Removes one store file under its lock; `beforeRemove` (the audit record) runs under
 * the lock first and may refuse by throwing. False when there was none.
 */
export async function removeStore(home: Home, t: Target, beforeRemove: () => Promise<void>): Promise<boolean> {
  const path = storePath(home, t);
  return withLockAsync(`${path}.lock`, async () => {
    if (!storeExists(home, t)) return false;
    await beforeRemove();
    forgetFile(path);
    try {
      unlinkSync(path);
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
      throw ioError('remove', path, err);
    }
    fsyncDir(home.dir);
    return true;
  });
}

/** Every store in the home, from the file names. */
export function listStores(home: Home): Target[] {
  let names: string[];
  try {
    names = readdirSync(home.dir);
  } catch (err) {
    if (errno(err) === 'ENOENT') return [];
    throw ioError('read', home.dir, err);
  }
  const out: Target[] = [];
  for (const n of names) {
    const m = /^([A-Za-z0-9_][A-Za-z0-9_-]*)\.([A-Za-z0-9_][A-Za-z0-9_-]*)\.age$/.exec(n);
    // The keeper's checkpoint (keeper.state.age) has a store's shape and is not one.
    if (m && n !== 'keeper.state.age') out.push({ app: m[1], env: m[2] });
  }
  return out.sort((a, b) => (a.app === b.app ? a.env.localeCompare(b.env) : a.app.localeCompare(b.app)));
}

export function storeExists(home: Home, t: Target): boolean {
  try {
    lstatSync(storePath(home, t));
    return true;
  } catch {
    return false;
  }
}
