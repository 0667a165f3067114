import { readFileSync, readlinkSync } from 'node:fs';
import { terminalDevice } from '../term/tty.js';
import { agentOfProcess, isInterpreter, isShell, markerFromEnv } from './agents.js';
import { formatTs, type Actor, type Ancestor } from './event.js';
import { PPID, STARTTIME, readStat, type ProcStat } from '../proc-stat.js';

/**
 * Who is calling lsm, captured at every event: best effort, never throws, and cheap
 * (a handful of /proc reads on Linux, one `ps` on macOS) since every command pays it.
 */

/** A process as the capture sees it; tests substitute a table of these. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  start: string;
  /** The script an interpreter runs (argv[1]), read only to recognise agents; never recorded. */
  script?: () => string | undefined;
}

export interface CaptureOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Overrides the terminal check (tests). */
  tty?: string;
  /** Looks a process up; the default reads /proc (Linux) or one `ps` listing (macOS). */
  proc?: (pid: number) => ProcInfo | undefined;
  pid?: number;
  ppid?: number;
}

/** Entries recorded up to the first process that is not a shell or wrapper. */
const MAX_RECORDED = 5;
/** How far up an agent process is looked for when no variable names one. */
const MAX_WALK = 8;
const CLK_TCK = 100;

let bootTime: number | undefined;
function bootSeconds(): number {
  if (bootTime === undefined) {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    bootTime = m ? Number(m[1]) : 0;
  }
  return bootTime;
}

function isoStart(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? formatTs(new Date(ms)) : '';
}

export function linuxProc(pid: number): ProcInfo | undefined {
  const stat = readStat(pid);
  return stat && procOfStat(pid, stat);
}

/** A process from its /proc/PID/stat. */
export function procOfStat(pid: number, { comm, fields: rest }: ProcStat): ProcInfo {
  const ticks = Number(rest[STARTTIME]);
  let start = '';
  try {
    const boot = bootSeconds();
    if (boot > 0 && Number.isFinite(ticks)) start = isoStart(boot * 1000 + (ticks * 1000) / CLK_TCK);
  } catch { /* no /proc/stat: leave the start unknown */ }
  return {
    pid,
    ppid: Number(rest[PPID]) || 0,
    comm,
    start,
    script: () => {
      try {
        return scriptOf(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
      } catch {
        return undefined;
      }
    },
  };
}

/** The script an interpreter runs, from the text of its /proc/PID/cmdline. */
export function scriptOf(cmdline: string): string | undefined {
  return cmdline.split('\0').slice(1).find((a) => a && !a.startsWith('-'));
}

// Only macOS and the BSDs get here; Linux never loads node:child_process for an event.
function ps(args: string[]): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync('ps', args, { encoding: 'utf8', timeout: 1000, stdio: ['ignore', 'pipe', 'ignore'] });
  return String(r.stdout ?? '');
}

function psTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  for (const line of ps(['-A', '-o', 'pid=,ppid=,lstart=,comm=']).split('\n')) {
    // lstart is five words ("Thu May 14 12:00:00 2026", local time); comm may hold spaces.
    const m = /^\s*(\d+)\s+(\d+)\s+(\S+\s+\S+\s+\S+\s+\S+\s+\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    const comm = m[4].trim().replace(/^.*\//, '');
    table.set(pid, { pid, ppid: Number(m[2]), comm, start: isoStart(Date.parse(m[3])) });
  }
  return table;
}

function defaultProc(): (pid: number) => ProcInfo | undefined {
  if (process.platform === 'linux') return linuxProc;
  if (process.platform === 'win32') return () => undefined;
  let table: Map<number, ProcInfo> | undefined;
  return (pid) => (table ??= psTable()).get(pid);
}

function ttyOfCaller(): string {
  const device = terminalDevice();
  if (device !== 'tty' || process.platform === 'win32') return device;
  // No /proc: the terminal ps reports for this process ("ttys003").
  const t = ps(['-o', 'tty=', '-p', String(process.pid)]).trim();
  return t && t !== '??' ? (t.startsWith('/') ? t : `/dev/${t}`) : 'tty';
}

function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

/** Captures the actor of an event in the current process. */
export function captureActor(opts: CaptureOptions = {}): Actor {
  const env = opts.env ?? process.env;
  const tty = opts.tty ?? ttyOfCaller();
  const proc = opts.proc ?? defaultProc();
  const ppid = opts.ppid ?? process.ppid;

  const chain: ProcInfo[] = [];
  const lookup = (depth: number): ProcInfo | undefined => {
    while (chain.length <= depth) {
      const below = chain.length === 0 ? ppid : chain[chain.length - 1].ppid;
      if (below <= 0) return undefined;
      const p = proc(below);
      if (!p || chain.some((c) => c.pid === p.pid)) return undefined;
      chain.push(p);
    }
    return chain[depth];
  };

  let recorded = 0;
  for (let d = 0; d < MAX_RECORDED; d++) {
    const p = lookup(d);
    if (!p) break;
    recorded = d + 1;
    if (!isShell(p.comm)) break;
  }

  const marker = markerFromEnv(env, tty !== '');
  let agent = marker.agent;
  let source = marker.source;
  if (!marker.strong) {
    for (let d = 0; d < MAX_WALK; d++) {
      const p = lookup(d);
      if (!p) break;
      const found = agentOfProcess(p.comm, isInterpreter(p.comm) ? p.script?.() : undefined);
      if (found) {
        // A process is better evidence than a variable every editor terminal carries.
        agent = found;
        source = 'ancestry';
        recorded = Math.max(recorded, d + 1);
        break;
      }
    }
  }

  const ancestry: Ancestor[] = chain.slice(0, recorded).map((p) => ({ pid: p.pid, comm: p.comm, start: p.start }));
  const actor: Actor = {
    ppid,
    parent_comm: ppid > 0 ? (chain[0]?.comm ?? '') : '',
    tty,
    cwd: opts.cwd ?? safeCwd(),
    agent_marker: agent,
    uid: uid(),
    pid: opts.pid ?? process.pid,
  };
  if (source) actor.agent_source = source;
  if (agent && marker.session && source === marker.source) actor.agent_session = marker.session;
  if (marker.vars.length > 0) actor.agent_vars = marker.vars;
  actor.ancestry = ancestry;
  return actor;
}

function safeCwd(): string {
  try {
    return process.cwd();
  } catch {
    return '';
  }
}

const byContext = new WeakMap<object, Actor>();

/** The keeper's contexts carry the actor it built from the kernel; nothing is captured in its own process. */
export function presetActor(ctx: object, actor: Actor): void {
  byContext.set(ctx, actor);
}

/**
 * The actor of the running command, captured once: the policy check and each audit
 * record of one command describe the same caller, and /proc need not be read twice.
 */
export function actorOf(ctx: { env: NodeJS.ProcessEnv; cwd: string }): Actor {
  let actor = byContext.get(ctx);
  if (!actor) {
    actor = captureActor({ env: ctx.env, cwd: ctx.cwd });
    byContext.set(ctx, actor);
  }
  return actor;
}
