import { readFileSync, readlinkSync, statSync, symlinkSync, unlinkSync, openSync, closeSync, constants } from 'node:fs';
import { basename } from 'node:path';
import { readRegular } from './atomic.js';
import { LsmError, errno, ioError } from './errors.js';
import { STARTTIME, readStat } from './proc-stat.js';

/**
 * An inter-process lock that names its owner (`pid starttime`). Node has no flock, so
 * the lock is a symbolic link whose target is that text: symlink(2) creates it with its
 * content in one atomic step and fails if it exists, and a killed locker leaves nothing
 * but the lock. It is judged stale when its owner is gone: the pid no longer runs, or
 * runs with another start time (pid reuse). A stale lock is taken over at once rather
 * than waited on; a second, short-lived `.break` lock keeps two rescuers from deleting
 * each other's fresh lock.
 */
export interface LockOptions {
  /** Give up after this long (ms); the default suits a CLI that many agents call at once. */
  timeoutMs?: number;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

let myStart: string | undefined;
function startTime(pid: number): string {
  if (process.platform !== 'linux') return '';
  return readStat(pid)?.fields[STARTTIME] ?? '';
}

/**
 * Whether `pid` runs lsm, as far as /proc tells: a planted lock naming a process that
 * lives for ever (pid 1, the user's shell) would otherwise block or blind lsm for good.
 * lsm runs as its native executable or as a script (`lsm`, `lsm.cjs`) under a runtime;
 * the same script as this process counts too (test harnesses, a keeper). A cmdline
 * that cannot be read (another user's process under hidepid) is given the benefit.
 */
export function isLsmProcess(pid: number): boolean {
  if (process.platform !== 'linux') return true;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`).toString('utf8').split('\0').filter(Boolean);
  } catch {
    return true;
  }
  if (args.length === 0) return false; // a zombie or kernel thread runs no lsm
  const mine = new Set([basename(process.argv[1] ?? ''), basename(process.argv0 ?? '')].filter((n) => n && !/^(node|bun|nodejs)$/.test(n)));
  return args.slice(0, 16).some((a) => {
    const n = basename(a);
    return /^lsm([.-]|$)/.test(n) || mine.has(n);
  });
}

/**
 * Whether the owner a lock names still holds it. Every lsm on Linux writes its start
 * time, so a lock without one, with another one (pid reuse), or naming a process that
 * is not lsm was planted or is left over: stale, and taken over.
 */
export function ownerAlive(content: string): boolean {
  const [pidText, start = ''] = content.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errno(err) !== 'EPERM') return false;
  }
  if (process.platform === 'linux') {
    if (!start) return false;
    const now = startTime(pid);
    if (now && now !== start) return false;
    if (!isLsmProcess(pid)) return false;
  }
  return true;
}

// The link is never followed: its target is only read back with readlink(2).
function tryCreate(path: string, content: string): boolean {
  try {
    symlinkSync(content, path);
    return true;
  } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    throw err;
  }
}

/**
 * The owner named by the lock at `path`, or undefined when there is none. A regular
 * file is a lock taken by an earlier lsm, which linked a file in place: its text names
 * the owner the same way, so both kinds exclude each other while they overlap.
 */
export function readOwner(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    if (errno(err) !== 'EINVAL') throw err;
  }
  try {
    return readRegular(path).toString('utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    // A FIFO planted as the lock would block a plain read for ever: it names no owner, so
    // it is stale and removed like any lock whose owner is gone.
    if (errno(err) === 'ENOTREG') return '';
    throw err;
  }
}

/**
 * Removes a stale lock, unless someone else is already doing so. True when the lock
 * is gone (removed here or by another rescuer): worth trying again at once.
 */
function breakStale(path: string, staleContent: string): boolean {
  const breaker = `${path}.break`;
  let fd: number;
  try {
    fd = openSync(breaker, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
    // A rescuer holds the breaker for microseconds; one that is old was killed mid-rescue.
    try {
      if (Date.now() - statSync(breaker).mtimeMs > 2000) unlinkSync(breaker);
    } catch { /* raced with its owner */ }
    return false;
  }
  closeSync(fd);
  try {
    if (readOwner(path) !== staleContent) return true;
    unlinkSync(path);
    return true;
  } catch (err) {
    // Gone already is done; a lock that cannot be removed (EACCES, EROFS) is waited on
    // like a live one, until the timeout says so, rather than retried in a busy loop.
    return errno(err) === 'ENOENT';
  } finally {
    try { unlinkSync(breaker); } catch { /* ignore */ }
  }
}

export interface Lock {
  release(): void;
}

/**
 * The locks this process holds now. A lock that names this process but is not among
 * them is one it failed to remove (an unlink that failed with EIO): a long-lived process
 * (the keeper) would otherwise wait for itself until every append timed out.
 */
const holding = new Set<string>();

export function acquire(path: string, opts: LockOptions = {}): Lock {
  const timeout = opts.timeoutMs ?? 15000;
  myStart ??= startTime(process.pid);
  const content = `${process.pid} ${myStart}`;
  const deadline = Date.now() + timeout;
  let wait = 1;
  let lastOwner = '';
  for (;;) {
    try {
      if (tryCreate(path, content)) break;
      const owner = readOwner(path);
      if (owner !== undefined) {
        lastOwner = owner;
        // An empty or foreign owner cannot come from tryCreate, only from tampering: stale.
        const leftover = owner.trim() === content && !holding.has(path);
        if ((leftover || !ownerAlive(owner)) && breakStale(path, owner)) continue;
      }
    } catch (err) {
      throw ioError('lock', path, err);
    }
    if (Date.now() > deadline) {
      const pid = lastOwner.trim().split(' ')[0] || 'unknown';
      throw new LsmError('locked', `timed out waiting for the lock ${path} (held by pid ${pid})`, {
        hint: 'another lsm process is busy; if none is running, remove the lock file',
      });
    }
    sleepSync(wait + Math.random() * wait);
    wait = Math.min(wait * 2, 25);
  }
  let held = true;
  holding.add(path);
  return {
    release() {
      if (!held) return;
      held = false;
      holding.delete(path);
      try {
        if (readOwner(path) === content) unlinkSync(path);
      } catch { /* nothing left to release */ }
    },
  };
}

/** Takes the lock if it is free (or stale) now, without waiting; undefined when it is held. */
export function tryAcquire(path: string): Lock | undefined {
  try {
    return acquire(path, { timeoutMs: -1 });
  } catch (err) {
    if (err instanceof LsmError && err.code === 'locked') return undefined;
    throw err;
  }
}

export function withLock<T>(path: string, fn: () => T, opts?: LockOptions): T {
  const lock = acquire(path, opts);
  try {
    return fn();
  } finally {
    lock.release();
  }
}

export async function withLockAsync<T>(path: string, fn: () => Promise<T>, opts?: LockOptions): Promise<T> {
  const lock = acquire(path, opts);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
