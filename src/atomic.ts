import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { ioError } from './errors.js';
import { STATE, readStat } from './proc-stat.js';

/**
 * Replaces `path` with `data` so that a reader (or a crash) sees the old bytes or the
 * new ones, never a mix: a temp file in the same directory, fsync, rename, fsync the
 * directory. The file is created 0600 whatever the umask. A writer killed before its
 * rename leaves its temp file behind; the next write of the same file removes it.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o600): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (err) {
    throw ioError('write', path, err);
  }
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    if (fd >= 0) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(tmp); } catch { /* best effort */ }
    throw ioError('write', path, err);
  }
  fsyncDir(dir);
  sweepOrphans(dir, basename(path));
}

const TEMP_TAIL = /^(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes the temp files of `name` whose writer no longer runs (SIGKILL, power loss):
 * without this every killed write would leave a copy of the file in the directory for
 * good. A writer that still runs is left alone, and so is a pid that was reused.
 */
function sweepOrphans(dir: string, name: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `.${name}.`;
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const m = TEMP_TAIL.exec(n.slice(prefix.length));
    if (!m || Number(m[1]) === process.pid || running(Number(m[1]))) continue;
    try { unlinkSync(join(dir, n)); } catch { /* another writer swept it */ }
  }
}

/**
 * Whether a process runs (EPERM: it does, as another user), for sweeping a dead one's
 * leftovers. A zombie does not: killed, it stays a pid until its parent reaps it, and a
 * detached keeper's parent is init, which may take its time (or, in a container, never).
 */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as { code?: unknown }).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  const stat = readStat(pid);
  return stat === undefined || stat.fields[STATE] !== 'Z';
}

/** Makes a rename durable. Some file systems refuse to fsync a directory: that is not an error. */
export function fsyncDir(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch { /* best effort: EINVAL on some file systems */ } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * Reads a file that must be a regular file: a FIFO would block the read forever, and a
 * device (a link to /dev/zero) would never end it. Both fail with code ENOTREG; a
 * directory fails with EISDIR, as readFileSync reports it. `nofollow` refuses a
 * symbolic link (ELOOP).
 */
export function readRegular(path: string, opts: { nofollow?: boolean; singleLink?: boolean } = {}): Buffer {
  const flags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (opts.nofollow ? constants.O_NOFOLLOW : 0);
  const fd = openSync(path, flags);
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREG' });
    // A second name for the file (a hard link in another home) is a copy that every write here reaches.
    if (opts.singleLink && st.nlink > 1) throw Object.assign(new Error(`has ${st.nlink} links`), { code: 'ENLINKS', nlink: st.nlink });
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
