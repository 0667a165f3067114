import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, constants as fs, openSync } from 'node:fs';

// Never blocks on a FIFO planted in its place, nor writes through a planted link.
const ERR_FLAGS = fs.O_WRONLY | fs.O_CREAT | fs.O_TRUNC | fs.O_NONBLOCK | fs.O_NOFOLLOW;

/**
 * Starts a process that outlives lsm, with no stdio tie to the caller: stdin and stdout
 * go nowhere, stderr to `errFile` (emptied), so that a process that cannot start (a bad
 * command line, a missing file) leaves its reason where `audit ship --status` reads it.
 * A module of its own so that node:child_process is loaded only by the commands that start one.
 */
export function spawnDetached(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, errFile: string): void {
  let err: number | 'ignore' = 'ignore';
  try {
    err = openSync(errFile, ERR_FLAGS, 0o600);
  } catch { /* started all the same, its stderr unseen */ }
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'ignore', err], env, cwd });
    const opened = typeof err === 'number';
    child.on('error', (e) => {
      // Often too late to be written (lsm has ended), but said where it can be.
      if (opened) try { appendFileSync(errFile, `lsm: cannot start the shipper: ${(e as { code?: string }).code ?? e.message}\n`); } catch { /* only a report */ }
    });
    child.unref();
  } finally {
    if (typeof err === 'number') closeSync(err);
  }
}
