import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { agentOfProcess, markerFromEnv } from '../audit/agents.js';
import { environOf } from './peer.js';
import type { Target } from '../resolve.js';
import { PPID, SESSION, STARTTIME, TTY_NR, readStat } from '../proc-stat.js';

/**
 * What an approval covers after it is given: the same asking session (the root of the
 * caller's process tree, by pid and start time, so a reused pid is another session),
 * the same app/env, the keys approved (or fewer), for the grant window. The window is
 * measured on the keeper's monotonic clock, which no process of the user can move.
 */
export interface SessionRoot {
  pid: number;
  /** /proc/PID/stat starttime (clock ticks since boot): a pid reused later has another. */
  start: string;
  /** How the root was found, for the record. */
  by: 'agent_process' | 'agent_marker' | 'session_leader' | 'caller';
}

const MAX_WALK = 256;

function uidOf(pid: number): number {
  try {
    return statSync(`/proc/${pid}`).uid;
  } catch {
    return -1;
  }
}

function stat(pid: number): { comm: string; ppid: number; sid: number; start: string; ttyNr: number } | undefined {
  const s = readStat(pid);
  if (!s) return undefined;
  const f = s.fields;
  return { comm: s.comm, ppid: Number(f[PPID]) || 0, sid: Number(f[SESSION]) || 0, ttyNr: Number(f[TTY_NR]) || 0, start: f[STARTTIME] ?? '' };
}

/**
 * The asking session: for an agent, the topmost ancestor (the caller included) that is
 * the agent's own process (by name) or whose start-up environment names the same agent,
 * so every shell and tool the agent runs shares one root and another run of the agent
 * does not; for anyone else, the session leader of the caller.
 */
/** A process's start time ('' when it is gone): with the pid, names the process and not a later one. */
export function processStart(pid: number): string {
  return stat(pid)?.start ?? '';
}

export function sessionRoot(pid: number, agent: string): SessionRoot {
  const own = stat(pid);
  if (!own) return { pid, start: '', by: 'caller' };
  if (agent !== '') {
    let found: { pid: number; start: string; by: SessionRoot['by'] } | undefined;
    let p = pid;
    let st: ReturnType<typeof stat> = own;
    const uid = uidOf(pid);
    // Up to the first process of another user: that is not the user's session any more.
    for (let d = 0; d < MAX_WALK && p > 1 && st && uidOf(p) === uid; d++) {
      const env = environOf(p);
      // The agent's own CLI process (claude, codex...) is its session, above the shells it
      // starts for each tool call, which carry the marker.
      if (agentOfProcess(st.comm) === agent) found = { pid: p, start: st.start, by: 'agent_process' };
      else if (env && markerFromEnv(env, st.ttyNr !== 0).agent === agent) found = { pid: p, start: st.start, by: 'agent_marker' };
      p = st.ppid;
      st = stat(p);
    }
    if (found) return found;
  }
  const leader = own.sid > 1 ? stat(own.sid) : undefined;
  if (leader) return { pid: own.sid, start: leader.start, by: 'session_leader' };
  return { pid, start: own.start, by: 'caller' };
}

export interface Grant {
  code: string;
  root: SessionRoot;
  agent: string;
  target: Target;
  keys: Set<string>;
  /** performance.now() deadline. */
  until: number;
}

export class Grants {
  private list: Grant[] = [];

  add(g: Omit<Grant, 'until'>, ms: number): void {
    if (ms <= 0) return;
    this.list.push({ ...g, until: performance.now() + ms });
  }

  /** The grant that covers this request, if one does; expired grants are dropped. */
  find(root: SessionRoot, agent: string, target: Target, keys: string[]): Grant | undefined {
    const now = performance.now();
    this.list = this.list.filter((g) => g.until > now);
    return this.list.find((g) =>
      g.root.pid === root.pid && g.root.start === root.start && g.root.start !== '' && g.agent === agent
      && g.target.app === target.app && g.target.env === target.env && keys.every((k) => g.keys.has(k)));
  }

  clear(): void {
    this.list = [];
  }
}
