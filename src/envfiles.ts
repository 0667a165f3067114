import { closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LsmError, errno, ioError } from './errors.js';
import type { EnvDocument } from './dotenv.js';

/**
 * The .env files of a directory, as `import` (with no FILE) and `clean` see them:
 * `.env` and `.env.<anything>`, except templates meant to be committed
 * (`.example`, `.sample`, `.template`), sorted by name so `.env` comes first.
 */
export interface EnvFile {
  name: string;
  path: string;
  /** The name is a symbolic link (to a regular file). */
  symlink: boolean;
  /** Hard links to the file: zeroing one with more would zero the others. */
  links: number;
}

const TEMPLATE = /\.(example|sample|template)$/;

export function isEnvFileName(name: string): boolean {
  return (name === '.env' || name.startsWith('.env.')) && !TEMPLATE.test(name);
}

export function findEnvFiles(dir: string): EnvFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw ioError('list', dir, err);
  }
  const out: EnvFile[] = [];
  for (const name of names.filter(isEnvFileName).sort()) {
    const path = join(dir, name);
    try {
      const link = lstatSync(path).isSymbolicLink();
      // A link to a directory or to nothing is not a .env file; a link to a file is
      // reported as one, so that each command can decide whether to follow it.
      const st = statSync(path);
      if (st.isFile()) out.push({ name, path, symlink: link, links: st.nlink });
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw ioError('read', path, err);
    }
  }
  return out;
}

/** Reads a .env file as text; bytes that are not UTF-8 are refused, not guessed at. */
export function readEnvText(path: string, shownAs = path): string {
  let raw: Buffer;
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    // A pipe is fine (`lsm import <(sops -d .env)`); a device such as /dev/zero never ends.
    if (!st.isFile() && !st.isFIFO()) throw Object.assign(new Error('not a regular file'), { code: st.isDirectory() ? 'EISDIR' : 'ENOTREG' });
    raw = readFileSync(fd);
  } catch (err) {
    throw ioError('read', shownAs, err);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  return decodeEnv(raw, shownAs);
}

export function decodeEnv(raw: Uint8Array, shownAs: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new LsmError('parse', `${shownAs} is not UTF-8 text`);
  }
}

/** Environment variables cannot hold NUL: such a value could never be exported by exec. */
export function refuseNul(doc: EnvDocument, shownAs: string): void {
  const bad = doc.entries().filter(([, v]) => v.includes('\0')).map(([k]) => k);
  if (bad.length > 0) {
    throw new LsmError('parse', `${shownAs}: the value of ${bad.join(', ')} contains a NUL byte`, {
      hint: 'environment variables cannot hold NUL bytes; store binary data base64-encoded',
    });
  }
}

/**
 * Overwrites a file with zeros of its length, syncs, then unlinks it. One pass is a
 * best effort: on SSDs and copy-on-write file systems the old blocks may survive.
 * A symbolic link is unlinked without touching its target.
 */
export function wipeFile(path: string): void {
  let fd = -1;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    // Another hard link shares these bytes (one made since the file was judged): zeroing
    // them would zero a file lsm was not asked to touch. Only the name goes.
    const size = st.nlink > 1 ? 0 : st.size;
    const zeros = Buffer.alloc(Math.min(size, 1 << 20));
    let off = 0;
    while (off < size) off += writeSync(fd, zeros, 0, Math.min(zeros.length, size - off), off);
    fsyncSync(fd);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    // ELOOP: a symlink, which is removed below without writing through it.
    if (errno(err) !== 'ELOOP') throw ioError('overwrite', path, err);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  try {
    unlinkSync(path);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw ioError('remove', path, err);
  }
}
