import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, rmSync, constants } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Kernel pipes for a masked child's stdout and stderr. Node gives a child 'pipe' stdio as
 * a Unix socket pair, and a socket is not a pipe: opening /dev/stdout on it fails (ENXIO),
 * and a reader that goes away hands the writer ECONNRESET instead of EPIPE/SIGPIPE, so
 * `lsm exec -- seq 1 1e7 | head -1` ended in an error message rather than quietly.
 * Node has no pipe(2) and no mkfifo(3): FIFOs made by mkfifo(1) in a private directory,
 * opened at both ends and unlinked at once, are pipes in every respect that matters.
 */
const MKFIFO = ['/usr/bin/mkfifo', '/bin/mkfifo'];

export interface Fifo {
  /** lsm's end, non-blocking. */
  read: number;
  /** The child's end. */
  write: number;
}

/**
 * Makes `n` pipes, or returns undefined where mkfifo(1) cannot run (the caller falls
 * back to Node's socket pairs). Nothing is left on disk whatever happens. Called just
 * before the child starts: the fork of mkfifo happens in lsm's thread either way, so
 * starting it earlier bought nothing measurable.
 */
export function makeFifos(n: number): Fifo[] | undefined {
  // Bun (the native build) reads nothing from a net.Socket made on a FIFO's descriptor.
  if (process.versions.bun) return undefined;
  // Never looked up in PATH, which the caller sets: a `mkfifo` of theirs that made links
  // to a file instead would have the child's unmasked output written there.
  const mkfifo = MKFIFO.find((p) => existsSync(p));
  if (!mkfifo) return undefined;
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'lsm-exec-'));
  } catch {
    return undefined;
  }
  const fifos: Fifo[] = [];
  try {
    const paths = Array.from({ length: n }, (_, i) => join(dir, String(i)));
    if (spawnSync(mkfifo, ['-m', '600', ...paths], { stdio: 'ignore', env: {} }).status !== 0) return undefined;
    for (const p of paths) {
      // The read end first, without blocking: then opening the write end does not block either.
      const f: Fifo = { read: openSync(p, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW), write: -1 };
      fifos.push(f);
      f.write = openSync(p, constants.O_WRONLY | constants.O_NOFOLLOW);
      const [r, w] = [fstatSync(f.read), fstatSync(f.write)];
      if (!r.isFIFO() || r.ino !== w.ino || r.dev !== w.dev) throw new Error('not the FIFO made');
    }
    return fifos;
  } catch {
    closeFifos(fifos);
    return undefined;
  } finally {
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* a temp dir */ }
  }
}

export function closeFifos(fifos: Fifo[] | undefined, which: 'both' | 'write' = 'both'): void {
  for (const f of fifos ?? []) {
    for (const fd of which === 'both' ? [f.read, f.write] : [f.write]) {
      if (fd < 0) continue;
      try { closeSync(fd); } catch { /* closed */ }
    }
  }
}
