import { spawn } from 'node:child_process';

/**
 * Starts a process that outlives lsm, with no stdio tie to the caller. A module of its
 * own so that node:child_process is loaded only by the commands that start one.
 */
export function spawnDetached(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): void {
  const child = spawn(cmd, args, { detached: true, stdio: 'ignore', env, cwd });
  child.on('error', () => { /* the event is in the log; the next command tries again */ });
  child.unref();
}
