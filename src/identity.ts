import { lstatSync, readFileSync } from 'node:fs';
import { listStores } from './store.js';
import { LsmError, errno, ioError } from './errors.js';
import { writeFileAtomic } from './atomic.js';
import type { Home } from './home.js';

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

export async function loadIdentity(home: Home): Promise<Identity> {
  const path = home.key;
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') {
      const stores = storeCount(home);
      throw new LsmError('key_missing', `key file not found: ${path}`, {
        hint: stores > 0
          ? `restore it from your backup: the ${stores} store file${stores === 1 ? '' : 's'} here ${stores === 1 ? 'is' : 'are'} encrypted to it, and a new key ('lsm init --force') cannot read ${stores === 1 ? 'it' : 'them'}`
          : "run 'lsm init' to create one",
      });
    }
    throw ioError('read', path, err);
  }
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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw ioError('read', path, err);
  }
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

export function writeIdentity(home: Home, id: Identity, now: Date): void {
  const created = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  writeFileAtomic(home.key, `# created: ${created}\n# public key: ${id.recipient}\n${id.identity}\n`, 0o600);
}
