import { lstatSync, readdirSync } from 'node:fs';
import { LsmError, errno, ioError } from './errors.js';
import { readRegular, writeFileAtomic } from './atomic.js';
import { withLockAsync } from './lock.js';
import { sha256Hex } from './audit/chain.js';
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
  const age = await import('./age/age.js');
  let plain: Uint8Array;
  try {
    plain = age.decrypt(data, [id.parsed ?? id.identity]);
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

export async function loadStore(home: Home, t: Target, id: Identity, opts: LoadOptions = {}): Promise<{ doc: EnvDocument; exists: boolean }> {
  const path = storePath(home, t);
  const data = readCipher(path);
  if (data === undefined) return { doc: parseEnv('', path), exists: false };
  const { checkStore } = await import('./audit/store-check.js');
  checkStore(home, t, sha256Hex(Buffer.from(data.buffer, data.byteOffset, data.byteLength)), opts);
  return { doc: await decryptStore(path, data, id), exists: true };
}

async function encryptStore(doc: EnvDocument, id: Identity): Promise<Uint8Array> {
  const age = await import('./age/age.js');
  return age.encrypt(Buffer.from(doc.serialize(), 'utf8'), [id.recipient]);
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
      const cipher = await encryptStore(replace ?? doc, id);
      await beforeSave?.(result, { sha256: sha256Hex(Buffer.from(cipher.buffer, cipher.byteOffset, cipher.byteLength)) });
      writeFileAtomic(path, cipher, 0o600);
    }
    return result;
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
    if (m) out.push({ app: m[1], env: m[2] });
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
