import { statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownerAlive, readOwner, tryAcquire, type Lock } from '../lock.js';
import { isTrue, parseConfigText, setting } from '../config.js';
import { parseMini } from '../miniyaml.js';
import { readRegular, writeFileAtomic } from '../atomic.js';
import { memoFile } from '../file-memo.js';
import { sha256Hex } from './chain.js';
import { selfCommand } from '../self.js';
import { isShippable } from './redact.js';
import type { Context } from '../context.js';
import type { Home } from '../home.js';
import type { AuditRow } from './event.js';

/**
 * How a command hands its event to the shipper without waiting on the network: after
 * the append it starts a detached `lsm audit ship --background` unless one is running
 * (or was just started), and returns. With shipping off this costs one small file read.
 */

const shipLock = (home: Home) => join(home.dir, 'ship.lock');
/** Touched when a shipper is started, removed once it holds the lock; a future mtime asks for quiet after failures. */
const spawnStamp = (home: Home) => join(home.dir, 'ship.spawn');
/** How long a started shipper has to take the lock before another may be started. */
const STARTING_MS = 5000;

/** Takes the shipper's lock at once or not at all: a second shipper has nothing to add. */
export function tryShipLock(home: Home): Lock | undefined {
  return tryAcquire(shipLock(home));
}

/** Pid of a running shipper, from its lock file, or undefined. For display only. */
export function runningShipper(home: Home): number | undefined {
  try {
    const owner = readOwner(shipLock(home)) ?? '';
    // A planted lock (`ln -s 1 ship.lock`) names no shipper: stale, whatever pid it names.
    if (!ownerAlive(owner)) return undefined;
    const pid = Number(owner.trim().split(' ')[0]);
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as { code?: unknown }).code === 'EPERM' ? -1 : undefined;
  }
}

/** The started shipper holds the lock now: the next command may start one when this one is done. */
export function clearSpawnStamp(home: Home): void {
  try { unlinkSync(spawnStamp(home)); } catch { /* none */ }
}

/** After a failed delivery: commands start no shipper for `ms` (shipSoon still does). */
export function deferSpawns(home: Home, ms: number, now = Date.now()): void {
  try {
    writeFileSync(spawnStamp(home), '', { mode: 0o600 });
    const until = (now + ms - STARTING_MS) / 1000;
    utimesSync(spawnStamp(home), until, until);
  } catch { /* only an optimisation */ }
}

/**
 * Whether config.yaml turns shipping on, at the cost of a file read: most homes never
 * mention otlp, and the rest are read by the fast YAML subset. A file outside that
 * subset (the yaml library costs more than the whole command) is parsed once per
 * content and the answer kept in `ship.cache`, keyed by the file's SHA-256.
 */
let parsed: { text: string | undefined; on: boolean } = { text: undefined, on: false };

async function shippingEnabled(home: Home): Promise<boolean> {
  let text: string;
  try {
    text = memoFile(home.config, 'text', () => readRegular(home.config).toString('utf8'));
  } catch {
    return false;
  }
  if (!text.includes('otlp')) return false;
  // The keeper asks at every append with the same text (src/file-memo.ts): parsed once.
  if (text === parsed.text) return parsed.on;
  const mini = parseMini(text);
  if (mini) {
    const on = isTrue(setting(mini, 'otlp', 'enabled'));
    parsed = { text, on };
    return on;
  }
  const cache = join(home.dir, 'ship.cache');
  const digest = sha256Hex(text);
  try {
    const [d, v] = readRegular(cache).toString('utf8').trim().split(' ');
    if (d === digest) return v === '1';
  } catch { /* not cached yet */ }
  const on = isTrue(setting(await parseConfigText(text, home.config), 'otlp', 'enabled'));
  try { writeFileAtomic(cache, `${digest} ${on ? 1 : 0}\n`); } catch { /* only a cache */ }
  return on;
}

/**
 * What the started shipper wrote on stderr (`ship.err`, emptied at each start): a
 * shipper that runs writes nothing there, so text means it did not start or it died.
 */
const shipErr = (home: Home) => join(home.dir, 'ship.err');

/** The last started shipper's failure, first line, or undefined when it wrote nothing. */
export function shipperFailure(home: Home): { at: string; message: string } | undefined {
  try {
    const text = readRegular(shipErr(home)).toString('utf8').trim();
    if (text === '') return undefined;
    const at = new Date(statSync(shipErr(home)).mtimeMs).toISOString();
    return { at, message: text.split('\n')[0].slice(0, 200) };
  } catch {
    return undefined;
  }
}

/** Starts a detached shipper unless one runs or is starting; `urgent` ignores the quiet period. */
export async function startShipper(ctx: Context, urgent = false): Promise<boolean> {
  const home = ctx.home;
  if (readOwner(shipLock(home)) !== undefined) {
    const probe = tryShipLock(home);
    if (!probe) return false; // it looks at the log again after it lets go
    probe.release();
  }
  const stamp = spawnStamp(home);
  try {
    if (!urgent && statSync(stamp).mtimeMs > Date.now() - STARTING_MS) return false;
  } catch { /* no stamp */ }
  writeFileSync(stamp, '', { mode: 0o600 });
  // Said by each command that starts another, so a shipper that cannot run is not silent.
  if (shipperFailure(home)) {
    ctx.stderr.write("lsm: warning: the background audit shipper failed; events wait in the log unsent ('lsm audit ship --status' says why)\n");
  }
  // The shipper runs as the command that starts it did, with the same node flags.
  const [cmd, args] = selfCommand(['--dir', home.dir, 'audit', 'ship', '--background'], { nodeFlags: true });
  // Loaded here, not at the top: every command imports this module, few start a shipper.
  const { spawnDetached } = await import('./detach.js');
  // From the keeper, ctx.env is the caller's start-up environment: its NODE_OPTIONS must not
  // run in a shipper the keeper starts. The keeper's own environment is the one it was given.
  const { custody } = await import('../custody.js');
  spawnDetached(cmd, args, custody() ? process.env : ctx.env, home.dir, shipErr(home));
  return true;
}

/**
 * The after-append hook (called from record()). Never throws and never waits: the log
 * is the record, shipping a copy of it is best effort.
 */
export async function shipAfterAppend(ctx: Context, row: AuditRow): Promise<void> {
  try {
    if (isShippable(row) && (await shippingEnabled(ctx.home))) await startShipper(ctx);
  } catch { /* never in the way of the command */ }
}

/** Ships as soon as possible (for events a remote should see at once, e.g. canary reads). */
export async function shipSoon(ctx: Context): Promise<boolean> {
  try {
    return (await shippingEnabled(ctx.home)) && (await startShipper(ctx, true));
  } catch {
    return false;
  }
}
