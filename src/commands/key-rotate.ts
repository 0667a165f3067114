import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { usage } from '../errors.js';
import { withLockAsync } from '../lock.js';
import { fileCustody, rotate } from '../rotate.js';
import { rotationJournal } from '../store.js';
import { record } from '../audit/record.js';
import { custody } from '../custody.js';
import { isProtected } from '../vault.js';
import { identityOf, requireHome } from './common.js';
import type { Context } from '../context.js';

/** `lsm key rotate`: a new key for every store (rotate.ts), in this process or, for a protected home, in a new keeper. */
export async function run(ctx: Context, args: string[]): Promise<number> {
  if (args.length > 0) throw usage('too many arguments', 'lsm key rotate');
  requireHome(ctx);
  if (!custody() && isProtected(ctx.home)) return rotateProtected(ctx);
  const { home } = ctx;
  const old = await identityOf(ctx);
  const custodyOfFiles = fileCustody(home, ctx.now);
  // One rotation at a time; a second waits for the first and then finds nothing to finish.
  const result = await withLockAsync(`${rotationJournal(home)}.lock`, () => rotate(
    home,
    custodyOfFiles,
    async () => {
      const { generateIdentity } = await import('../age/age.js');
      const started = ctx.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
      return { old, next: generateIdentity(), id: randomBytes(8).toString('hex'), started };
    },
    (r, stores) => record(ctx, { event: 'key.rotate', fields: { rotation: r.id, stores, backup: r.backup, recipient: r.next.recipient } }, { failClosed: true }),
  ), { timeoutMs: 120_000 });
  const r = result.rotation;
  report(ctx, { stores: result.stores, resumed: result.resumed, started: r.started, recipient: r.next.recipient }, `${join(home.dir, r.backup)} (0600)`);
  return 0;
}

function report(ctx: Context, r: { stores: number; resumed: boolean; started: string; recipient: string }, kept: string): void {
  const n = `${r.stores} store${r.stores === 1 ? '' : 's'}`;
  if (r.resumed) ctx.stdout.write(`Finished the interrupted key rotation started ${r.started}: ${n} now encrypted to the new key\n`);
  else ctx.stdout.write(`Rotated the key: ${n} re-encrypted\n`);
  ctx.stdout.write(`Public key: ${r.recipient}\n`);
  ctx.stderr.write(`lsm: the previous key is kept at ${kept}: older copies of the stores need it; delete it when none is left\n`);
}

/**
 * A protected home's key is only in a keeper's memory and the passphrase is never sent
 * over the socket, so the rotation is done by a new keeper, as `lsm unlock` starts one:
 * the passphrase asked here goes on a pipe to it; it stops the running keeper, rotates
 * (key.age, the journal and the backup all passphrase-encrypted), records the events
 * and serves with the new key. This process never holds a key.
 */
async function rotateProtected(ctx: Context): Promise<number> {
  const { refusePreload, IDLE_DEFAULT, TTL_DEFAULT } = await import('../keeper/unlock.js');
  refusePreload(ctx, 'lsm key rotate');
  const { readPassphrase } = await import('../term/passphrase.js');
  const passphrase = await readPassphrase(ctx, `Passphrase for ${ctx.home.dir}: `, { confirm: false });
  const { parseDuration } = await import('../audit/query.js');
  const { launchKeeper } = await import('../keeper/start.js');
  const { pid, report: r } = await launchKeeper(ctx.home, passphrase, { ttlMs: parseDuration(TTL_DEFAULT)!, idleMs: parseDuration(IDLE_DEFAULT)!, rotate: true });
  const done = r as { stores: number; resumed: boolean; started: string; recipient: string; backup: string } | undefined;
  if (!done || typeof done.backup !== 'string') {
    ctx.stderr.write(`lsm: the keeper (pid ${pid}) started without saying what it rotated: see 'lsm audit tail'\n`);
    return 1;
  }
  report(ctx, done, `${join(ctx.home.dir, done.backup)} (0600, encrypted with the passphrase)`);
  ctx.stderr.write(`lsm: unlocked ${ctx.home.dir} with the new key (keeper pid ${pid})\n`);
  return 0;
}
