/**
 * Running a test's subject processes as an ordinary user. CI runs as root, and root
 * passes every same-user check by capability (it reads any /proc/PID/environ, attaches
 * to any process), so a protection proven as root proves nothing. As root, subjects run
 * as the user .ci/run creates (`lsmtest`) through setpriv; as an ordinary user, directly.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions, type SpawnSyncOptions, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const UNPRIVILEGED_USER = 'lsmtest';

interface Who {
  uid: number;
  gid: number;
  /** The prefix that runs a command as that user: setpriv as root, nothing otherwise. */
  prefix: string[];
}

function probe(): Who | string {
  const me = process.getuid?.();
  if (me === undefined) return 'no POSIX user ids on this platform';
  if (me !== 0) return { uid: me, gid: process.getgid!(), prefix: [] };
  const id = (flag: string) => spawnSync('id', [flag, UNPRIVILEGED_USER], { encoding: 'utf8' });
  const u = id('-u');
  if (u.status !== 0) return `running as root and there is no user ${UNPRIVILEGED_USER} to drop to (.ci/run creates it: useradd -m ${UNPRIVILEGED_USER})`;
  if (spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status !== 0) return 'running as root and setpriv (util-linux) is missing';
  const who: Who = {
    uid: Number(u.stdout.trim()),
    gid: Number(id('-g').stdout.trim()),
    prefix: ['setpriv', `--reuid=${UNPRIVILEGED_USER}`, `--regid=${UNPRIVILEGED_USER}`, '--init-groups', '--'],
  };
  // The subjects run code from this checkout: the user must be able to read it.
  const r = spawnSync(who.prefix[0]!, [...who.prefix.slice(1), 'test', '-r', join(process.cwd(), 'package.json')]);
  if (r.status !== 0) return `${UNPRIVILEGED_USER} cannot read ${process.cwd()}`;
  return who;
}

const probed = probe();

/** Why the unprivileged tests cannot run here; undefined when they can. Pass as node:test's `skip`. */
// Skipped with the reason on a developer's machine that cannot drop to the user; in CI
// (CI=true) never: a same-user protection that went untested there would pass unseen.
export const skip: string | undefined = typeof probed === 'string' && process.env.CI !== 'true' ? probed : undefined;

function who(): Who {
  if (typeof probed === 'string') throw new Error(`unprivileged: ${probed}`);
  return probed;
}

/** The unprivileged user's uid and gid (the current user's when not root). */
export function unprivilegedIds(): { uid: number; gid: number } {
  const { uid, gid } = who();
  return { uid, gid };
}

/** A fresh 0700 temp directory owned by the unprivileged user (a home, a socket dir). */
export function unprivilegedHome(prefix = 'lsm-unpriv-'): string {
  const { uid, gid, prefix: via } = who();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (via.length > 0) chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  return dir;
}

function wrap(cmd: string, args: string[]): [string, string[]] {
  const { prefix } = who();
  return prefix.length === 0 ? [cmd, args] : [prefix[0]!, [...prefix.slice(1), cmd, ...args]];
}

/** spawnSync as the unprivileged user. setpriv execs, so the pid is the command's own. */
export function runAs(cmd: string, args: string[], opts: SpawnSyncOptions = {}): SpawnSyncReturns<string> {
  const [c, a] = wrap(cmd, args);
  return spawnSync(c, a, { encoding: 'utf8', ...opts }) as SpawnSyncReturns<string>;
}

/** spawn as the unprivileged user (a long-running subject); the child's pid is the command's. */
export function spawnAs(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const [c, a] = wrap(cmd, args);
  return spawn(c, a, opts);
}

/**
 * Waits until `pid` runs `comm` (up to 5 s): a process from spawnAs is setpriv, still
 * root's, until it has changed its user and exec'd the command, and its /proc is closed
 * to the user meanwhile.
 */
export function waitForExec(pid: number, comm: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 250; i++) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm) return;
    } catch { /* not yet, or gone */ }
    Atomics.wait(pause, 0, 0, 20);
  }
}
