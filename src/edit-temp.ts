import { mkdtempSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { running } from './atomic.js';
import { wipeFile } from './envfiles.js';
import { formatTs } from './audit/event.js';
import { record } from './audit/record.js';
import type { Context } from './context.js';

/**
 * The plaintext directories of `lsm edit`: `<home>/lsm-edit-<pid>-*`, 0700, holding the
 * store's .env text as `<app>.<env>.env` (and whatever the editor leaves beside it). An
 * edit zeroes and removes its own however it ends, except when lsm is killed with SIGKILL
 * or the machine stops. Then the next lsm command removes it before it runs and records
 * that it did: a store's plaintext must not wait on disk, unrecorded, for the next
 * `lsm edit`. A plain `lsm get` (dist/lsm-get.cjs) is the exception, kept to its minimum.
 */

const PREFIX = 'lsm-edit-';
const OWNED = /^lsm-edit-(\d+)-/;

/** A new, empty plaintext directory for this process's edit. */
export function makeEditTemp(home: string): string {
  return mkdtempSync(join(home, `${PREFIX}${process.pid}-`));
}

/** Zeroes and removes everything in the directory (editors leave swap and backup files too), then the directory. */
export function removeEditTemp(dir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch { /* gone */ }
  for (const n of names) {
    try {
      wipeFile(join(dir, n));
    } catch {
      rmSync(join(dir, n), { recursive: true, force: true });
    }
  }
  try {
    rmdirSync(dir);
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface AbandonedEdit {
  /** The edit's lsm, no longer running. */
  pid: number;
  /** When its plaintext was last written (the directory's mtime), RFC 3339 UTC. */
  since: string;
  /** From the file name; absent when the directory held no store file. */
  app?: string;
  env?: string;
}

/**
 * Removes the directories of edits whose lsm no longer runs. Each is first renamed into
 * this process's name, so that of two commands sweeping at once only one removes (and
 * reports) it, and one killed while sweeping leaves it to the next.
 */
export function sweepAbandonedEdits(home: string): AbandonedEdit[] {
  let names: string[];
  try {
    names = readdirSync(home);
  } catch {
    return [];
  }
  const swept: AbandonedEdit[] = [];
  for (const n of names) {
    const pid = Number(OWNED.exec(n)?.[1]);
    if (!pid || pid === process.pid || running(pid)) continue;
    const claimed = join(home, `${PREFIX}${process.pid}-swept-${n.slice(PREFIX.length)}`);
    let since = '';
    try {
      since = formatTs(statSync(join(home, n)).mtime);
      renameSync(join(home, n), claimed);
    } catch {
      continue; // another command took it first
    }
    let file: string | undefined;
    try {
      file = readdirSync(claimed).find((f) => /^[\w-]+\.[\w-]+\.env$/.test(f));
    } catch { /* empty or gone */ }
    removeEditTemp(claimed);
    const [app, env] = file ? file.split('.') : [];
    swept.push({ pid, since, ...(app && env ? { app, env } : {}) });
  }
  return swept;
}

/** Sweeps before a command runs; each removal is recorded as `edit.swept` (local only). */
export async function sweepAndRecord(ctx: Context): Promise<void> {
  for (const s of sweepAbandonedEdits(ctx.home.dir)) {
    await record(ctx, { event: 'edit.swept', app: s.app, env: s.env, fields: { edit_pid: s.pid, since: s.since }, localOnly: true }, { failClosed: false });
  }
}
