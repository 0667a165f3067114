import { closeSync, lstatSync, readSync } from 'node:fs';
import { errno } from '../errors.js';
import { isBlankLine, lineNumberAt, openLog, readRow, type ParsedRow, type SkipReporter } from './reader.js';

/**
 * `audit tail -f`: polls the file, prints each complete line other processes append,
 * and says so when the file is truncated or replaced, then follows it from its start.
 * Polling (not fs.watch) because it behaves the same on every file system.
 */

export interface FollowHandlers {
  onRow(row: ParsedRow): void;
  /** After each batch of appended lines: the moment to flush output. */
  onIdle?(): void;
  skipped: SkipReporter;
  warn(message: string): void;
  signal: AbortSignal;
  intervalMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function follow(path: string, from: { offset: number; ino: number }, h: FollowHandlers): Promise<void> {
  let { offset, ino } = from;
  let partial: Buffer[] = [];
  let partialStart = offset;
  let missing = false;
  const buf = Buffer.allocUnsafe(1024 * 1024);
  while (!h.signal.aborted) {
    await sleep(h.intervalMs ?? 100, h.signal);
    if (h.signal.aborted) break;
    let st;
    try {
      st = lstatSync(path);
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREG' });
    } catch (err) {
      if (!missing) {
        if (errno(err) === 'ENOENT') h.warn(`${path} was removed; waiting for it to come back`);
        else if (errno(err) === 'ENOTREG') h.warn(`${path} was replaced by something that is not a regular file (lsm writes none); waiting for the log to come back`);
      }
      missing = true;
      continue;
    }
    const replaced = st.ino !== ino || missing;
    if (replaced || st.size < offset) {
      h.warn(replaced ? `${path} was replaced; following the new file from its start` : `${path} was truncated; following it from its start`);
      offset = 0;
      partial = [];
      partialStart = 0;
      ino = st.ino;
      missing = false;
    }
    if (st.size <= offset) continue;
    let fd: number;
    try {
      fd = openLog(path);
    } catch {
      continue;
    }
    try {
      while (offset < st.size) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, st.size - offset), offset);
        if (n === 0) break;
        let start = 0;
        for (;;) {
          const nl = buf.indexOf(0x0a, start);
          if (nl < 0 || nl >= n) break;
          partial.push(buf.subarray(start, nl));
          const bytes = partial.length === 1 ? partial[0] : Buffer.concat(partial);
          const lineStart = partialStart;
          partial = [];
          partialStart = offset + nl + 1;
          start = nl + 1;
          if (isBlankLine(bytes)) continue;
          const parsed = readRow(bytes);
          if (parsed) h.onRow({ no: 0, ...parsed });
          else h.skipped.skip(lineNumberAt(fd, lineStart));
        }
        if (start < n) partial.push(Buffer.from(buf.subarray(start, n)));
        offset += n;
      }
    } finally {
      closeSync(fd);
    }
    h.onIdle?.();
  }
}
