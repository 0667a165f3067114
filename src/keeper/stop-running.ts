import { lstatSync, unlinkSync } from 'node:fs';
import { LsmError } from '../errors.js';
import { PROTOCOL, socketPath } from './protocol.js';
import type { Home } from '../home.js';

/**
 * The keeper serving `home`, if any, is asked to stop (it records keeper.lock and saves
 * its state) and waited for until it has exited and its socket is gone; a socket nobody answers on
 * is a dead keeper's and is removed. Used by a keeper taking over the home (a second
 * unlock) and by a rotating keeper.
 */
export async function stopRunningKeeper(home: Home, reason: string, waitMs = 5000): Promise<void> {
  const path = socketPath(home);
  try {
    if (!lstatSync(path).isSocket()) throw new LsmError('io', `${path} exists and is not a socket; remove it`);
  } catch (err) {
    if (err instanceof LsmError) throw err;
    return;
  }
  const { sendRequest } = await import('./client.js');
  try {
    const reply = await sendRequest(home, { v: PROTOCOL, op: 'stop', args: { reason } }, 10_000);
    const pid = reply.ok ? Number((reply.result as { pid?: unknown } | null)?.pid) : NaN;
    for (let waited = 0; waited < waitMs; waited += 20) {
      let there = true;
      try { lstatSync(path); } catch { there = false; }
      if (!there && !keeperRunning(pid)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch { /* nobody answers: a stale socket */ }
  try { unlinkSync(path); } catch { /* gone */ }
}

/**
 * Whether the keeper with this pid (from its status) still runs. Its socket goes when it
 * stops listening, before it has written keeper.lock and its state: whoever reads the
 * home after it (a keeper taking over, `lsm lock` returning) waits for the process.
 */
export function keeperRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits (up to waitMs) for the keeper with this pid to have exited. */
export async function waitForKeeperExit(pid: number, waitMs = 10_000): Promise<void> {
  for (let waited = 0; waited < waitMs && keeperRunning(pid); waited += 20) await new Promise((r) => setTimeout(r, 20));
}
