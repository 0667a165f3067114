import { closeSync, fsyncSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { LsmError, errno, ioError } from '../errors.js';
import { fsyncDir } from '../atomic.js';
import type { Home } from '../home.js';

/**
 * The per-host salt that app and env names are HMAC'd with before they leave the
 * machine: 32 random bytes in `observability.salt`, mode 0600. The same name must map
 * to the same label for ever, so a salt is never replaced: it is created with link(2),
 * which fails if another process made one first, and then that one is used.
 */
export const SALT_BYTES = 32;

export function saltPath(home: Home): string {
  return join(home.dir, 'observability.salt');
}

function readSalt(path: string): Buffer | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw ioError('read', path, err);
  }
  if (!st.isFile() || st.size !== SALT_BYTES) {
    throw new LsmError('config', `${path} is not a ${SALT_BYTES}-byte salt`, {
      hint: 'move it away to start a new one (app and env labels in the collector will change)',
    });
  }
  if ((st.mode & 0o077) !== 0) {
    throw new LsmError('config', `${path} has mode ${(st.mode & 0o777).toString(8)}: other users could read it`, {
      hint: `chmod 600 ${path}`,
    });
  }
  try {
    return readFileSync(path);
  } catch (err) {
    throw ioError('read', path, err);
  }
}

export function loadSalt(home: Home): Buffer {
  const path = saltPath(home);
  const existing = readSalt(path);
  if (existing) return existing;
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, randomBytes(SALT_BYTES));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
      fsyncDir(home.dir);
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    }
  } catch (err) {
    throw ioError('create', path, err);
  } finally {
    try { unlinkSync(tmp); } catch { /* already gone */ }
  }
  const salt = readSalt(path);
  if (!salt) throw new LsmError('io', `cannot create ${path}`);
  return salt;
}
