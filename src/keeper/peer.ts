import { readFileSync, readlinkSync } from 'node:fs';
import { captureActor, procOfStat, scriptOf, type ProcInfo } from '../audit/actor.js';
import { PPID, SESSION, STARTTIME, TTY_NR, readStat } from '../proc-stat.js';
import { markerFromEnv } from '../audit/agents.js';
import type { Actor } from '../audit/event.js';
import { shieldOf } from './shield-mark.js';

/**
 * Who is on the other end of the keeper's socket, from the kernel: the pid comes from
 * SO_PEERCRED, everything else from /proc/PID, never from what the client says. The
 * environment is /proc/PID/environ, the one the process was started with, which code
 * inside it (a NODE_OPTIONS shim deleting CLAUDECODE) cannot change; when it names no
 * agent, the environments of the ancestors are read too, so `env -i lsm get` run by an
 * agent's shell is still the agent's.
 */
export interface Peer {
  actor: Actor;
  cwd: string;
  env: Record<string, string>;
  /** Recorded with each event as `fields.peer`: what the kernel said, beyond the actor. */
  evidence: Record<string, unknown>;
}

const TERMINAL = /^\/dev\/(pts\/\d+|tty[\w.]*|console)$/;
// The walks go to the top: any cap is a depth to hide behind (257 shells deep hid the
// shield from a cap of 256). A pid seen twice (a loop, /proc racing) ends them.
// The event records the nearest ancestors only, so a deep tree cannot bloat the log.
const RECORDED = 256;

/** The ancestors of `pid`, nearest first, up to the top. */
function* ancestors(ppid: number, proc: (p: number) => ProcInfo | undefined, floor: number): Generator<[number, ProcInfo]> {
  const seen = new Set<number>();
  for (let p = ppid; p > floor && !seen.has(p); ) {
    seen.add(p);
    const st = proc(p);
    if (!st) return;
    yield [p, st];
    p = st.ppid;
  }
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function link(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

export function environOf(pid: number): Record<string, string> | undefined {
  const text = read(`/proc/${pid}/environ`);
  return text === undefined ? undefined : environOfText(text);
}

function environOfText(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] ??= entry.slice(eq + 1);
  }
  return env;
}

interface Stat { ppid: number; sid: number; ttyNr: number; comm: string }

function statOf(pid: number): Stat | undefined {
  const stat = readStat(pid);
  if (!stat) return undefined;
  const f = stat.fields;
  return { comm: stat.comm, ppid: Number(f[PPID]) || 0, sid: Number(f[SESSION]) || 0, ttyNr: Number(f[TTY_NR]) || 0 };
}

/** The terminal behind a descriptor of the process, or "". */
function ttyOf(pid: number, fd: number): string {
  const target = link(`/proc/${pid}/fd/${fd}`);
  return TERMINAL.test(target) ? target : '';
}

/**
 * An ancestor as this request sees it: its stat is read fresh (ppid and comm may change
 * under a running process), its exe, start-up environment and command line come from
 * `seen` when they were read before of the same process image.
 */
interface Ancestor {
  info: ProcInfo;
  exe: string;
  env(): Record<string, string> | undefined;
}

/**
 * What was read of an ancestor's environ and cmdline, by pid, under a key that changes
 * when the pid is another process (start time) or the process execs (a new stack: new
 * arg_start, arg_end, env_start and env_end in /proc/PID/stat, fields 48-51; and a new
 * comm, which a process may also set itself, and is then read anew). The ancestors are
 * mostly long-lived shells, read again at every request they stand above. Kept as first
 * read: a process that later rewrites its own environ memory does not shed a marker it
 * started with. When the keeper may not ptrace the process the kernel shows those fields
 * as 0, and nothing of it is kept.
 */
const seen = new Map<number, { key: string; exe?: string; env?: Record<string, string>; cmdline?: string }>();
const MAX_SEEN = 256;

function ancestorOf(pid: number): Ancestor | undefined {
  const stat = readStat(pid);
  if (!stat) return undefined;
  const base = procOfStat(pid, stat);
  // arg_start..env_end are fields 48-51 of proc(5).
  const stack = stat.fields.slice(45, 49);
  const keep = stack.length === 4 && stack.every((a) => /^[1-9]\d*$/.test(a));
  const key = [stat.fields[STARTTIME], base.comm, ...stack].join(' ');
  let s = seen.get(pid);
  if (!s || s.key !== key) {
    seen.delete(pid);
    s = { key };
    if (keep) {
      seen.set(pid, s);
      if (seen.size > MAX_SEEN) seen.delete(seen.keys().next().value!);
    }
  }
  const entry = s;
  entry.exe ||= link(`/proc/${pid}/exe`);
  return {
    exe: entry.exe,
    info: {
      ...base,
      script: () => {
        entry.cmdline ??= read(`/proc/${pid}/cmdline`);
        return entry.cmdline === undefined ? undefined : scriptOf(entry.cmdline);
      },
    },
    env: () => {
      if (!entry.env) {
        const t = read(`/proc/${pid}/environ`);
        if (t !== undefined) entry.env = environOfText(t);
      }
      return entry.env;
    },
  };
}

export function describePeer(pid: number): Peer | undefined {
  const stat = statOf(pid);
  const own = environOf(pid);
  if (!stat || !own) return undefined;
  const cwd = link(`/proc/${pid}/cwd`);
  const tty = ttyOf(pid, 0);
  // The ancestors, each read from /proc once: the marker search, the actor and the evidence walk the same chain.
  const known = new Map<number, Ancestor | undefined>();
  const ancestor = (p: number): Ancestor | undefined => {
    if (!known.has(p)) known.set(p, ancestorOf(p));
    return known.get(p);
  };
  const proc = (p: number): ProcInfo | undefined => ancestor(p)?.info;
  const exe = (p: number): string => ancestor(p)?.exe ?? '';
  // Markers are looked for in the caller's own start-up environment first, then its ancestors'.
  let markerEnv = own;
  let markerFrom: Record<string, unknown> | undefined;
  if (!markerFromEnv(own, tty !== '').strong) {
    for (const [p, st] of ancestors(stat.ppid, proc, 1)) {
      const env = ancestor(p)?.env();
      if (env && markerFromEnv(env, tty !== '').strong) {
        markerEnv = env;
        markerFrom = { pid: p, comm: st.comm, exe: exe(p) };
        break;
      }
    }
  }
  const actor = captureActor({ env: markerEnv, cwd, tty, pid, ppid: stat.ppid, proc });
  const chain: Array<Record<string, unknown>> = [];
  for (const [p, st] of ancestors(stat.ppid, proc, 0)) chain.push({ pid: p, comm: st.comm, exe: chain.length < RECORDED ? exe(p) : '' });
  const ancestry = chain.slice(0, RECORDED);
  // Under lsm shield: the agent `shield`, unless a marker variable already named one.
  const shield = shieldOf(chain, stat.comm);
  if (shield && !actor.agent_marker) {
    actor.agent_marker = 'shield';
    actor.agent_source = 'shield';
  }
  const argv0 = (read(`/proc/${pid}/cmdline`) ?? '').split('\0')[0];
  const evidence: Record<string, unknown> = {
    source: 'kernel',
    exe: link(`/proc/${pid}/exe`),
    argv0,
    sid: stat.sid,
    tty_nr: stat.ttyNr,
    stdout_tty: ttyOf(pid, 1) !== '',
    cgroup: (read(`/proc/${pid}/cgroup`) ?? '').trim().split('\n')[0] ?? '',
    no_new_privs: /^NoNewPrivs:\s*1$/m.test(read(`/proc/${pid}/status`) ?? ''),
    ancestry,
  };
  if (chain.length > RECORDED) evidence.ancestry_depth = chain.length;
  if (markerFrom) evidence.marker_from = markerFrom;
  if (shield) evidence.shield = shield;
  return { actor, cwd, env: own, evidence };
}
