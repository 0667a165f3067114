import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { listStores } from './store.js';
import { EXIT, LsmError, errno, ioError } from './errors.js';
import { writeFileAtomic } from './atomic.js';
import type { Home } from './home.js';
import { custody } from './custody.js';

/**
 * key.txt in age-keygen format, so `age -d -i ~/.lsm/key.txt` opens any store.
 * A key that group or others can read is refused: it would be a secret in the open.
 */
export interface Identity {
  identity: string;
  recipient: string;
  /** The parsed key, so each store operation does not parse it again. */
  parsed?: import('./age/age.js').X25519Identity;
}

// Only for the message of a missing key: 0 when the home cannot be listed.
function storeCount(home: Home): number {
  try {
    return listStores(home).length;
  } catch {
    return 0;
  }
}

/** The error of a protected home whose key only the keeper holds: exit 5. */
export function lockedError(home: Home): LsmError {
  return new LsmError('locked', `${home.dir} is protected: its key is passphrase-encrypted in ${home.keyAge}`, {
    hint: "run 'lsm unlock' to give the passphrase to the keeper",
    exit: EXIT.locked,
  });
}

/** The home's key.txt, or another identity file of the same format (a rotation's journal, a backup). */
export async function loadIdentity(home: Home, path = home.key): Promise<Identity> {
  // Inside the keeper the identity is the one unlocked into its memory; key.txt does not exist.
  const held = custody();
  if (held && path === home.key) return held.identity;
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') {
      if (existsSync(home.keyAge)) throw lockedError(home);
      const stores = storeCount(home);
      throw new LsmError('key_missing', `key file not found: ${path}`, {
        hint: stores > 0
          ? `restore it from your backup: the ${stores} store file${stores === 1 ? '' : 's'} here ${stores === 1 ? 'is' : 'are'} encrypted to it, and a new key ('lsm init --force') cannot read ${stores === 1 ? 'it' : 'them'}`
          : "run 'lsm init' to create one",
      });
    }
    throw ioError('read', path, err);
  }
  // Both: a protection cut short, or a plaintext key put back beside the protected one.
  if (existsSync(home.keyAge)) throw bothKeysError(home);
  checkKeyFile(path, st);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw ioError('read', path, err);
  }
  return parseKeyText(text, path);
}

export function bothKeysError(home: Home): LsmError {
  return new LsmError('key_invalid', `${home.dir} has both a plaintext key (${home.key}) and a protected one (${home.keyAge})`, {
    hint: `if 'age -d ${home.keyAge}' shows the same key after the passphrase, remove ${home.key} ('shred -u' zeroes it first); to stay unprotected, remove ${home.keyAge} instead`,
  });
}

/** Refuses a key file that is a link, not a file, or readable by group or others. */
export function checkKeyFile(path: string, st: import('node:fs').Stats): void {
  if (st.isSymbolicLink()) {
    throw new LsmError('key_perms', `key file ${path} is a symbolic link; refusing to follow it`, {
      hint: 'replace the link with the key file itself (mode 0600)',
    });
  }
  if (!st.isFile()) throw new LsmError('key_invalid', `key file ${path} is not a regular file`);
  // A hard link is a second name for the key, in a place the user never looks (another home).
  if (st.nlink > 1) {
    throw new LsmError('key_perms', `key file ${path} has ${st.nlink} hard links; refusing to use it`, {
      hint: `another name for the key (a copy in another home, say) opens every store here; find it with 'find / -samefile ${path}' and remove it`,
    });
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = `0${(st.mode & 0o777).toString(8)}`;
    throw new LsmError('key_perms', `key file ${path} has mode ${mode} (group or others can read it); refusing to use it`, {
      hint: `run 'chmod 600 ${path}'`,
    });
  }
}

/** The identity in key.txt's text (age-keygen format); `path` names the file in errors. */
export async function parseKeyText(text: string, path: string): Promise<Identity> {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  const { parseIdentity } = await import('./age/age.js');
  if (line === undefined || !line.startsWith('AGE-SECRET-KEY-1')) {
    throw new LsmError('key_invalid', `key file ${path} holds no age X25519 identity (AGE-SECRET-KEY-1...)`, {
      hint: "restore the key from a backup, or run 'lsm init --force' (existing stores become unreadable)",
    });
  }
  try {
    const parsed = parseIdentity(line);
    return { identity: line, recipient: parsed.recipient, parsed };
  } catch {
    throw new LsmError('key_invalid', `key file ${path} holds a malformed age identity`, {
      hint: 'restore the key from a backup',
    });
  }
}

/** key.txt's text for an identity: age-keygen's format. */
export function keyText(id: Identity, now: Date): string {
  const created = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `# created: ${created}\n# public key: ${id.recipient}\n${id.identity}\n`;
}

export function writeIdentity(home: Home, id: Identity, now: Date): void {
  writeFileAtomic(home.key, keyText(id, now), 0o600);
}
