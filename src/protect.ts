import { closeSync, existsSync, fstatSync, fsyncSync, lstatSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { LsmError, errno, ioError } from './errors.js';
import { checkKeyFile, keyText, parseKeyText, type Identity } from './identity.js';
import type { Home } from './home.js';

/**
 * A protected home keeps its identity only as key.age: age's own encrypted-identity
 * format (the key.txt text, passphrase-encrypted with scrypt), so that
 * `age -d -i ~/.lsm/key.age FILE` still opens any store after asking the passphrase.
 * Unlocking is slow by design (scrypt, about a second): the keeper does it once.
 */
export function isProtected(home: Home): boolean {
  return existsSync(home.keyAge);
}

// key.txt backups that `lsm init --force` leaves: key.txt.<time>.bak.
const BACKUP = /^key\.txt\..+\.bak$/;

/** The key.txt backups in the home (plaintext identities), by file name. */
export function keyBackups(home: Home): string[] {
  try {
    return readdirSync(home.dir).filter((n) => BACKUP.test(n)).sort();
  } catch (err) {
    throw ioError('list', home.dir, err);
  }
}

async function age(): Promise<typeof import('./age/age.js') & typeof import('./age/passphrase.js')> {
  return { ...(await import('./age/age.js')), ...(await import('./age/passphrase.js')) };
}

function passphraseError(path: string): LsmError {
  return new LsmError('bad_passphrase', `wrong passphrase for ${path}`, { hint: 'try again; the passphrase is the one given to lsm init --protect or lsm key protect' });
}

/** Opens key.age with the passphrase. Throws LsmError 'bad_passphrase', 'key_*', 'io'. */
export async function unlockIdentity(home: Home, passphrase: string): Promise<Identity> {
  const path = home.keyAge;
  let bytes: Buffer;
  try {
    checkKeyFile(path, lstatSync(path));
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof LsmError) throw err;
    if (errno(err) === 'ENOENT') throw new LsmError('key_missing', `${home.dir} is not protected: ${path} not found`);
    throw ioError('read', path, err);
  }
  const { AgeError, decryptWithPassphrase } = await age();
  let text: Uint8Array;
  try {
    text = decryptWithPassphrase(bytes, passphrase);
  } catch (err) {
    if (err instanceof AgeError && err.kind === 'bad_passphrase') throw passphraseError(path);
    const why = err instanceof AgeError ? err.message : String(err);
    throw new LsmError('key_invalid', `${path} is not a passphrase-encrypted age identity: ${why}`, { hint: 'restore key.age from a backup' });
  }
  try {
    return await parseKeyText(Buffer.from(text).toString('utf8'), path);
  } finally {
    text.fill(0);
  }
}

/**
 * Overwrites a plaintext key file with zeros (synced), then removes it. On a copy-on-write
 * or journaling file system, or an SSD, the old blocks may survive the overwrite: zeroing
 * removes the key from the file, not necessarily from the device.
 */
export function wipeFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw ioError('wipe', path, err);
  }
  try {
    const size = fstatSync(fd).size;
    const zeros = Buffer.alloc(Math.min(size, 64 * 1024));
    for (let off = 0; off < size; off += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, size - off), off);
    fsyncSync(fd);
  } catch (err) {
    throw ioError('wipe', path, err);
  } finally {
    closeSync(fd);
  }
  try {
    unlinkSync(path);
  } catch (err) {
    throw ioError('remove', path, err);
  }
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch { /* not every file system syncs directories */ }
}

/**
 * Protects a home with a passphrase: writes key.age (0600, atomically) from the identity,
 * checks that it opens again, encrypts every key.txt backup the same way as
 * `<name>.age`, and only then zeroes and removes key.txt and the plaintext backups, so
 * that no AGE-SECRET-KEY-1 remains in the home. Interrupted half-way, the home has both
 * key files, which loadIdentity reports (nothing is lost).
 * `logN` is the scrypt work factor (18, as the age CLI writes); only tests lower it.
 */
export async function protectIdentity(home: Home, id: Identity, passphrase: string, opts: { now?: Date; logN?: number } = {}): Promise<{ backups: string[] }> {
  if (passphrase === '') throw new LsmError('usage', 'an empty passphrase is not a protection');
  if (existsSync(home.keyAge)) {
    throw new LsmError('exists', `${home.dir} is already protected (${home.keyAge} exists)`);
  }
  const { encryptWithPassphrase } = await age();
  // key.txt's own text when there is one (its comments included), so key.age decrypts to it.
  let text: string;
  try {
    text = readFileSync(home.key, 'utf8');
    if (!text.includes(id.identity)) throw new LsmError('key_invalid', `${home.key} does not hold the identity being protected`);
  } catch (err) {
    if (err instanceof LsmError) throw err;
    if (errno(err) !== 'ENOENT') throw ioError('read', home.key, err);
    text = keyText(id, opts.now ?? new Date());
  }
  const seal = (plain: string) => Buffer.from(encryptWithPassphrase(Buffer.from(plain, 'utf8'), passphrase, opts.logN));
  writeFileAtomic(home.keyAge, seal(text), 0o600);
  // A key.age that does not open with the passphrase just given would lose the key at the wipe.
  const back = await unlockIdentity(home, passphrase);
  if (back.identity !== id.identity) {
    unlinkSync(home.keyAge);
    throw new LsmError('internal', `${home.keyAge} did not decrypt to the key it was written from; key.txt was left as it was`);
  }
  const backups = keyBackups(home);
  for (const name of backups) {
    const from = join(home.dir, name);
    const to = `${from}.age`;
    let plain: string;
    try {
      plain = readFileSync(from, 'utf8');
    } catch (err) {
      throw ioError('read', from, err);
    }
    writeFileAtomic(to, seal(plain), 0o600);
  }
  syncDir(home.dir);
  for (const name of backups) wipeFile(join(home.dir, name));
  wipeFile(home.key);
  syncDir(home.dir);
  return { backups: backups.map((n) => `${n}.age`) };
}
