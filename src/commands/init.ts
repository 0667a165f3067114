import { chmodSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { LsmError, ioError } from '../errors.js';
import { writeFileAtomic } from '../atomic.js';
import { writeIdentity } from '../identity.js';
import { DEFAULT_CONFIG } from '../config.js';
import { listStores } from '../store.js';
import { record } from '../audit/record.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, _args: string[], opts: { force?: boolean; protect?: boolean }): Promise<number> {
  const { home } = ctx;
  // On a terminal a new home is protected unless --no-protect; off one (scripts, CI) only with --protect.
  const protect = opts.protect ?? Boolean(ctx.stdin.isTTY);
  try {
    if (!existsSync(home.dir)) mkdirSync(home.dir, { recursive: true, mode: 0o700 });
    if ((statSync(home.dir).mode & 0o077) !== 0) chmodSync(home.dir, 0o700);
  } catch (err) {
    throw ioError('create', home.dir, err);
  }
  const keys = [home.key, home.keyAge].filter((k) => existsSync(k));
  // No key but stores: the key was lost or moved, and a new one would leave every store
  // unreadable while looking like a fresh start. Restoring it is the way back.
  const stores = listStores(home).length;
  if (keys.length === 0 && stores > 0 && !opts.force) {
    throw new LsmError('exists', `${home.dir} has no key.txt but ${stores} store file${stores === 1 ? '' : 's'}, encrypted to the missing key`, {
      hint: 'restore key.txt (or key.age) from your backup; --force makes a new key, and those stores stay unreadable with it',
    });
  }
  if (keys.length > 0 && !opts.force) {
    throw new LsmError('exists', `key already exists at ${keys.join(' and ')}`, {
      hint: 'use --force to replace it (existing stores then need the old key, which is kept as a backup)',
    });
  }
  // Asked before anything changes, so a mistyped or cancelled passphrase leaves the home as it was.
  let passphrase: string | undefined;
  if (protect) {
    const { readPassphrase } = await import('../term/passphrase.js');
    passphrase = await readPassphrase(ctx, 'Passphrase for the new key: ', { confirm: true });
  }
  // Replacing the key orphans every store; keep the old one so nothing is lost.
  const backups: string[] = [];
  const stamp = ctx.now().toISOString().replace(/[:.]/g, '-');
  for (const key of keys) {
    const backup = `${key}.${stamp}.bak`;
    try {
      renameSync(key, backup);
    } catch (err) {
      throw ioError('back up', key, err);
    }
    backups.push(backup);
  }
  const { generateIdentity } = await import('../age/age.js');
  const id = generateIdentity();
  let encrypted: string[] = [];
  if (passphrase !== undefined) {
    const { protectIdentity } = await import('../protect.js');
    // Never written as key.txt: key.age is made from the new key in memory, and any
    // key.txt backup in the home is encrypted with the same passphrase.
    encrypted = (await protectIdentity(home, id, passphrase, { now: ctx.now() })).backups;
  } else {
    writeIdentity(home, id, ctx.now());
  }
  if (!existsSync(home.config)) writeFileAtomic(home.config, DEFAULT_CONFIG, 0o600);
  await record(ctx, { event: 'init', fields: { force: Boolean(opts.force), replaced: backups.length > 0, protected: protect } }, { failClosed: false });
  ctx.stdout.write(`Created key at ${protect ? `${home.keyAge} (passphrase-protected)` : home.key}\nPublic key: ${id.recipient}\n`);
  for (const b of backups) ctx.stderr.write(`lsm: the previous key was moved to ${encrypted.includes(`${b.slice(home.dir.length + 1)}.age`) ? `${b}.age (passphrase-encrypted)` : b}\n`);
  if (stores > 0) ctx.stderr.write(`lsm: warning: ${stores} existing store(s) were encrypted to the previous key and cannot be read with the new one\n`);
  if (protect) ctx.stderr.write("lsm: the key opens only with the passphrase: 'lsm unlock' to use it; 'age -d -i key.age FILE' works too\n");
  return 0;
}
