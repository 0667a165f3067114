import { lstatSync, statSync, type BigIntStats } from 'node:fs';

/**
 * What the keeper would otherwise read again on every request (config.yaml, the digest
 * index, a store's plaintext), kept while the file's stat says it is the same file with
 * the same bytes: device, inode, size, link count, mtime and ctime to the nanosecond. A
 * user can set mtime (utimes) but not ctime, which moves at every write, rename and
 * utimes, so an edit that puts size and mtime back is still seen. Timestamps are coarse
 * (two writes in one tick may share a ctime), so a file whose ctime is less than RACY
 * old, or ahead of the clock, is never served from here and what is read of it is not
 * kept. Off (every call reads the file) in every process but the keeper, which alone
 * lives long enough for a memo to pay; it turns it off, and wipes it, when it locks.
 */
const RACY_NS = 1_000_000_000n;

interface Entry {
  st: BigIntStats;
  values: Map<string, unknown>;
}

let on = false;
const entries = new Map<string, Entry>();
/** What zeroes the plaintext kept of a file when its entry goes. */
const wipes = new Map<string, Array<() => void>>();

/** Whether this process keeps what it read (the keeper, unlocked). */
export function fileMemoOn(): boolean {
  return on;
}

export function useFileMemo(enabled: boolean): void {
  on = enabled;
  if (!enabled) for (const path of [...entries.keys()]) forgetFile(path);
}

/** Drops what is kept of `path` (the keeper is about to write it, or it changed), zeroing its plaintext. */
export function forgetFile(path: string): void {
  entries.delete(path);
  for (const wipe of wipes.get(path) ?? []) wipe();
  wipes.delete(path);
}

const same = (a: BigIntStats, b: BigIntStats) =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.nlink === b.nlink && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.mode === b.mode;

/**
 * `load()` (which reads `path` and derives `kind` from it), or what it gave the last time
 * the file stood as it stands now. Errors are load's own: a file that cannot be stat'ed,
 * is not a regular file, or is racy is simply read. `nofollow` stats the link itself
 * (a store: a symbolic link is then no regular file, and load refuses it as before).
 * `wipe` zeroes what the value holds of a secret when it is dropped.
 */
export function memoFile<T>(path: string, kind: string, load: () => T, opts: { nofollow?: boolean; wipe?: (v: T) => void } = {}): T {
  if (!on) return load();
  let st: BigIntStats | undefined;
  try {
    st = (opts.nofollow ? lstatSync : statSync)(path, { bigint: true });
  } catch {
    st = undefined;
  }
  const kept = entries.get(path);
  if (!st || !st.isFile() || (kept && !same(kept.st, st))) forgetFile(path);
  const now = BigInt(Date.now()) * 1_000_000n;
  const racy = !st || st.ctimeNs > now - RACY_NS;
  const entry = entries.get(path);
  if (entry && !racy && entry.values.has(kind)) return entry.values.get(kind) as T;
  const value = load();
  // Kept only under a stat taken before the read: a write after it changes the stat, so the next call reads again.
  if (st && st.isFile() && !racy) {
    const e = entry ?? { st, values: new Map<string, unknown>() };
    entries.set(path, e);
    e.values.set(kind, value);
    const wipe = opts.wipe;
    if (wipe) wipes.set(path, [...(wipes.get(path) ?? []), () => wipe(value)]);
  }
  return value;
}
