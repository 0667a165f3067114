import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { constants as os, homedir } from 'node:os';
import { join, sep } from 'node:path';
import { EXIT, LsmError, errno, usage } from '../errors.js';
import { resolveHome } from '../home.js';
import { loadPlatform, type Platform } from '../platform.js';
import { findOnPath } from '../command-path.js';
import { relaySignals } from '../relay.js';
import { MIN_ABI, REFUSED, buildRuleset, envFilesUnder, real } from './rules.js';
import { SHIELD_NAME } from '../keeper/shield-mark.js';
import { PPID, readStat } from '../proc-stat.js';
import { stubFd } from './stub.js';
import { StartError, startChild, type Child } from './child.js';
import type { Context } from '../context.js';

export interface ShieldOptions {
  command: string[];
  allowRead: string[];
  /** Protect .env, .env.* and *.age under the cwd (the default). */
  envFiles: boolean;
}

function refuse(message: string, hint: string): LsmError {
  return new LsmError('platform', message, { exit: REFUSED, hint });
}

/** The Landlock ABI, or why there is none usable. */
async function landlock(ctx: Context): Promise<{ platform: Platform; abi: number }> {
  let platform: Platform;
  try {
    platform = await loadPlatform();
  } catch (err) {
    const why = err instanceof LsmError ? err.message : String(err);
    throw refuse(`lsm shield cannot sandbox on this system (${why}); the command was not run`, 'run the agent without the shield only if you accept that it can read the lsm home');
  }
  if (platform.os === 'darwin') {
    throw refuse('lsm shield needs Linux Landlock; on macOS it refuses rather than rely on sandbox-exec (deprecated, untested here); the command was not run', "use the agent's own sandbox: 'lsm shield --print-config claude' or 'codex'");
  }
  // A test seam that can only take Landlock away, never give it: the refusal path is
  // tried on a kernel that has Landlock.
  const abi = ctx.env.LSM_SHIELD_TEST_NO_LANDLOCK === '1' ? 0 : platform.landlockAbi();
  if (abi === 0) {
    throw refuse('this kernel offers no Landlock (Linux 5.13 or later with landlock in its LSM list); lsm shield will not run the command unprotected', "check 'cat /sys/kernel/security/lsm' for landlock; boot with lsm=...,landlock to enable it");
  }
  if (abi < MIN_ABI) {
    throw refuse(`this kernel's Landlock is ABI ${abi}; lsm shield needs ABI ${MIN_ABI} (Linux 6.2) to deny truncating the home's files; the command was not run`, 'a newer kernel is needed');
  }
  return { platform, abi };
}

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * The homes to protect: the shielded one, and the others the user's environment names
 * (LSM_DIR, the default ~/.lsm) where they hold a home's files. `lsm --dir H shield` protected H only,
 * and an lsm home that LSM_DIR or ~/.lsm named stayed readable inside.
 */
function homesOf(ctx: Context, home: string): string[] {
  const homes = [home];
  for (const dir of [ctx.env.LSM_DIR, join(homedir(), '.lsm')]) {
    if (!dir) continue;
    const other = resolveHome(dir, {});
    const h = real(other.dir);
    // A directory that holds an lsm home's files, not whatever LSM_DIR happens to say.
    if (!homes.includes(h) && [other.config, other.key, other.keyAge].some((f) => existsSync(f))) homes.push(h);
  }
  return homes;
}

/** Runs the command under the shield; resolves to its exit code (or 128+signal after dying of it). */
export async function runShield(ctx: Context, opts: ShieldOptions): Promise<number> {
  const name = opts.command[0];
  if (!name) throw usage('missing the command to run', 'lsm shield [--allow-read PATH]... -- command [args...]');
  const { platform, abi } = await landlock(ctx);
  try {
    if (!statSync(ctx.home.dir).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new LsmError('not_found', `there is no lsm home at ${ctx.home.dir} to shield`, { hint: "'lsm init' makes one; --dir or LSM_DIR names another" });
  }
  const home = real(ctx.home.dir);
  const homes = homesOf(ctx, home);
  // lsm inside works only through a keeper: a plaintext key.txt is as unreadable there as the rest.
  if (!existsSync(ctx.home.keyAge)) {
    ctx.stderr.write(`lsm: shield: warning: ${ctx.home.dir} is not protected, so lsm commands inside the shield cannot read its key; 'lsm key protect' and 'lsm unlock' (outside the shield) let them work through the keeper\n`);
  } else if (!existsSync(join(ctx.home.dir, 'keeper.sock'))) {
    ctx.stderr.write(`lsm: shield: warning: no keeper holds the key of ${ctx.home.dir}; lsm commands inside the shield fail until 'lsm unlock' is run outside it (a keeper started inside could not read key.age)\n`);
  }
  const allowed = new Set<string>();
  for (const p of opts.allowRead) {
    const r = real(p.startsWith('/') ? p : `${ctx.cwd}${sep}${p}`);
    const h = homes.find((h) => inside(r, h) || inside(h, r));
    if (p === '' || h !== undefined) throw usage(`--allow-read ${p === '' ? "''" : p}: ${h === undefined ? 'an empty path' : `the lsm home ${h} is what the shield protects`}`, '--allow-read takes a file under the project, such as .env.test');
    allowed.add(r);
  }
  const found = opts.envFiles ? envFilesUnder(ctx.cwd, allowed) : { files: [], truncated: false };
  if (found.truncated) ctx.stderr.write(`lsm: warning: the search for .env and *.age files under ${ctx.cwd} stopped after 2000 directories; files deeper are not protected\n`);
  const files = found.files.map(real).filter((f) => !homes.some((h) => inside(f, h)));

  const file = findOnPath(name, ctx.env.PATH ?? '', ctx.cwd);
  if (file === undefined) throw new LsmError('exec', `command not found: ${name}`, { exit: EXIT.notFound });
  if (file === null) throw new LsmError('exec', `${name} is not executable`, { exit: 126 });

  process.title = SHIELD_NAME;
  // Node's title sets the kernel's name of the process (comm), which the keeper reads; Bun's
  // does not: the process names itself through /proc as well, which both allow, before
  // it is non-dumpable (its /proc is root's then).
  try { writeFileSync('/proc/self/comm', SHIELD_NAME); } catch { /* not Linux: the title it is */ }
  // Orphans of the command (setsid, a double fork) reparent here, not to init: every
  // process of the tree keeps this one in its ancestry, where the keeper looks.
  if (!platform.subreaper()) throw refuse('prctl(PR_SET_CHILD_SUBREAPER) was refused; the command was not run', 'this needs Linux 3.4 or later');
  // Landlock already keeps the command from tracing this process or writing its memory;
  // non-dumpable, its /proc stays closed to any other process of the user as well.
  if (!platform.undumpable()) throw refuse('lsm shield could not make itself non-dumpable; the command was not run', 'prctl(PR_SET_DUMPABLE) was refused');
  const { ruleset } = buildRuleset(platform, abi, { homes, files });
  if (files.length > 0) {
    ctx.stderr.write(`lsm: shield: ${files.length} secret file${files.length === 1 ? '' : 's'} under ${ctx.cwd} unreadable (${files.slice(0, 3).map((f) => f.slice(ctx.cwd.length + 1)).join(', ')}${files.length > 3 ? ', ...' : ''}); files created later beside ${files.length === 1 ? 'it' : 'them'} cannot be read in the shield: 'lsm import' them and delete them, or --no-env-files\n`);
  }

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined) env[k] = v;
  env.LSM_SHIELD = String(process.pid);
  // lsm inside uses the home the shield protects and its keeper, whatever LSM_DIR said.
  env.LSM_DIR = ctx.home.dir;
  let stub: number;
  try {
    stub = stubFd(platform);
  } catch (err) {
    platform.closeFd(ruleset);
    throw err;
  }
  // The stub (src/shield/stub.ts) gets the ruleset as fd 3 and itself as fd 4, restricts
  // itself and execs the command as `name` with its arguments.
  let child: Child;
  try {
    child = await startChild('/proc/self/fd/4', ['lsm-shield-stub', file, ...opts.command], env, [0, 1, 2, ruleset, stub]);
  } catch (err) {
    const code = err instanceof StartError ? err.code : errno(err);
    throw code === 'EACCES' ? refuse(`lsm shield could not run its exec stub (EACCES: is vm.memfd_noexec set?); ${name} was not run`, 'sysctl vm.memfd_noexec must be 0 or 1')
      : new LsmError('exec', `cannot start ${name}: ${code ?? 'error'}`, { exit: 126 });
  } finally {
    platform.closeFd(ruleset);
    platform.closeFd(stub);
  }
  // A stderr that cannot be written must not end the shield before its tree.
  return supervise(child, platform, (m) => { try { ctx.stderr.write(m); } catch { /* said nowhere */ } });
}

/** Relays signals while the command runs, then ends as it did. */
async function supervise(child: Child, platform: Platform, warn: (message: string) => void): Promise<number> {
  const release = relaySignals((sig) => child.kill(sig));
  // Orphans of the command are this process's children (a subreaper's), and no one else
  // reaps them: unreaped, every daemon that ended stayed a zombie for the whole session.
  const reaper = setInterval(() => platform.reapExcept(child.pid), 1000);
  const { code, signal } = await child.exited;
  clearInterval(reaper);
  release();
  endTree(platform, warn);
  if (signal) {
    const n = os.signals[signal] ?? 0;
    try { process.kill(process.pid, signal); } catch { /* fall through */ }
    return 128 + n;
  }
  return code ?? 1;
}

/**
 * The command has ended: what it left running (a daemon it started, reparented here)
 * is killed, so that no shielded process outlives the shield and, reparented to init,
 * loses the ancestry the keeper reads. (It keeps its Landlock domain either way.)
 * The shield does not exit while it has a child: as long as it lives, every process of
 * the tree has it as an ancestor (a subreaper's orphans are its children), and with no
 * child left there is no tree. So it keeps killing until none is left, however many
 * looks that takes: processes that each start the next and exit outran a fixed number
 * of looks at /proc, and a process that lowered this one's file limit (prlimit, which
 * Landlock does not restrict) kept it from listing /proc at all; then it only waits.
 */
function endTree(platform: Platform, warn: (message: string) => void): void {
  let warned = false;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let round = 0; platform.hasChildren(); round++) {
    if (!killTree() && !warned) {
      warn('lsm: shield: the processes the command left running cannot be listed (the shield\'s limits were lowered?); waiting for them to end\n');
      warned = true;
    }
    Atomics.wait(pause, 0, 0, Math.min(1 + round, 50));
  }
}

/** SIGKILL to every process below this one, each as soon as it is found; false when /proc cannot be listed. */
function killTree(): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return false;
  }
  const parents = new Map<number, number>();
  const parentOf = (pid: number): number => {
    let p = parents.get(pid);
    if (p === undefined) {
      p = Number(readStat(pid)?.fields[PPID]) || 0;
      parents.set(pid, p);
    }
    return p;
  };
  const mine = (pid: number): boolean => {
    const seen = new Set<number>();
    for (let p = parentOf(pid); p > 1 && !seen.has(p); p = parentOf(p)) {
      if (p === process.pid) return true;
      seen.add(p);
    }
    return false;
  };
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid !== process.pid && mine(pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  return true;
}
