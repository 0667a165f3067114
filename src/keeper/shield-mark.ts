import { STARTTIME, readStat } from '../proc-stat.js';

/** The name `lsm shield` gives its process (src/shield/run.ts), which the keeper looks for among a caller's ancestors. */
export const SHIELD_NAME = 'lsm-shield';

/**
 * The shield a caller runs under, from its ancestry (nearest first): the shield is a
 * subreaper outside its command's Landlock domain, which cannot signal or trace it, so
 * setsid, a double fork, env -i or a new name leave a shielded process in its tree. A
 * process calling itself lsm-shield only makes its own callers an agent.
 */
export function shieldOf(ancestry: ReadonlyArray<Record<string, unknown>>, callerComm: string): Record<string, unknown> | undefined {
  const i = ancestry.findIndex((a) => a.comm === SHIELD_NAME);
  if (i < 0) return undefined;
  const pid = Number(ancestry[i]!.pid);
  // starttime: with the pid, it names the shield even after the pid is reused (0: it ended while the caller was read).
  const start = Number(readStat(pid)?.fields[STARTTIME]) || 0;
  return { root_pid: pid, root_start_ticks: start, command: i > 0 ? ancestry[i - 1]!.comm : callerComm };
}
