import { chmodSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { LsmError, ioError } from '../errors.js';
import { writeFileAtomic } from '../atomic.js';
import { writeIdentity } from '../identity.js';
import { DEFAULT_CONFIG } from '../config.js';
import { listStores } from '../store.js';
import { record } from '../audit/record.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, _args: string[], opts: { force?: boolean }): Promise<number> {
  const { home } = ctx;
  try {
    if (!existsSync(home.dir)) mkdirSync(home.dir, { recursive: true, mode: 0o700 });
    if ((statSync(home.dir).mode & 0o077) !== 0) chmodSync(home.dir, 0o700);
  } catch (err) {
    throw ioError('create', home.dir, err);
  }
  let backup: string | undefined;
  // No key but stores: the key was lost or moved, and a new one would leave every store
  // unreadable while looking like a fresh start. Restoring it is the way back.
  const stores = listStores(home).length;
  if (!existsSync(home.key) && stores > 0 && !opts.force) {
    throw new LsmError('exists', `${home.dir} has no key.txt but ${stores} store file${stores === 1 ? '' : 's'}, encrypted to the missing key`, {
      hint: 'restore key.txt from your backup; --force makes a new key, and those stores stay unreadable with it',
    });
  }
  if (existsSync(home.key)) {
    if (!opts.force) {
      throw new LsmError('exists', `key already exists at ${home.key}`, {
        hint: 'use --force to replace it (existing stores then need the old key, which is kept as a backup)',
      });
    }
    // Replacing the key orphans every store; keep the old one so nothing is lost.
    backup = `${home.key}.${ctx.now().toISOString().replace(/[:.]/g, '-')}.bak`;
    try {
      renameSync(home.key, backup);
    } catch (err) {
      throw ioError('back up', home.key, err);
    }
  }
  const { generateIdentity } = await import('../age/age.js');
  const id = generateIdentity();
  writeIdentity(home, id, ctx.now());
  if (!existsSync(home.config)) writeFileAtomic(home.config, DEFAULT_CONFIG, 0o600);
  await record(ctx, { event: 'init', fields: { force: Boolean(opts.force), replaced: backup !== undefined } }, { failClosed: false });
  ctx.stdout.write(`Created key at ${home.key}\nPublic key: ${id.recipient}\n`);
  if (backup) ctx.stderr.write(`lsm: the previous key was moved to ${backup}\n`);
  if (stores > 0) ctx.stderr.write(`lsm: warning: ${stores} existing store(s) were encrypted to the previous key and cannot be read with the new one\n`);
  return 0;
}
