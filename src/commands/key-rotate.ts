import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { usage } from '../errors.js';
import { withLockAsync } from '../lock.js';
import { fileCustody, rotate } from '../rotate.js';
import { rotationJournal } from '../store.js';
import { record } from '../audit/record.js';
import { identityOf } from './common.js';
import type { Context } from '../context.js';

/** `lsm key rotate`: a new key for every store of an unprotected home (rotate.ts). */
export async function run(ctx: Context, args: string[]): Promise<number> {
  if (args.length > 0) throw usage('too many arguments', 'lsm key rotate');
  const { home } = ctx;
  // A protected home's key is only in its keeper, which does not rotate yet: refused, as
  // every command not behind the keeper is (identityOf), rather than asking for a key file.
  const old = await identityOf(ctx);
  const custody = fileCustody(home, ctx.now);
  // One rotation at a time; a second waits for the first and then finds nothing to finish.
  const result = await withLockAsync(`${rotationJournal(home)}.lock`, () => rotate(
    home,
    custody,
    async () => {
      const { generateIdentity } = await import('../age/age.js');
      const started = ctx.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
      return { old, next: generateIdentity(), id: randomBytes(8).toString('hex'), started };
    },
    (r, stores) => record(ctx, { event: 'key.rotate', fields: { rotation: r.id, stores, backup: r.backup, recipient: r.next.recipient } }, { failClosed: true }),
  ), { timeoutMs: 120_000 });
  const r = result.rotation;
  const n = `${result.stores} store${result.stores === 1 ? '' : 's'}`;
  if (result.resumed) ctx.stdout.write(`Finished the interrupted key rotation started ${r.started}: ${n} now encrypted to the new key\n`);
  else ctx.stdout.write(`Rotated the key: ${n} re-encrypted\n`);
  ctx.stdout.write(`Public key: ${r.next.recipient}\n`);
  ctx.stderr.write(`lsm: the previous key is kept at ${join(home.dir, r.backup)} (0600): older copies of the stores need it; delete it when none is left\n`);
  return 0;
}
