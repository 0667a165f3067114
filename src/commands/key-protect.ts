import { existsSync } from 'node:fs';
import { LsmError } from '../errors.js';
import { loadIdentity } from '../identity.js';
import { record } from '../audit/record.js';
import type { Context } from '../context.js';

export async function run(ctx: Context): Promise<number> {
  const { home } = ctx;
  if (existsSync(home.keyAge) && !existsSync(home.key)) {
    throw new LsmError('exists', `${home.dir} is already protected (${home.keyAge})`);
  }
  const id = await loadIdentity(home);
  const { readPassphrase } = await import('../term/passphrase.js');
  const passphrase = await readPassphrase(ctx, 'New passphrase for the key: ', { confirm: true });
  const { protectIdentity } = await import('../protect.js');
  const { backups } = await protectIdentity(home, id, passphrase, { now: ctx.now() });
  await record(ctx, { event: 'key.protect', fields: { backups: backups.length } }, { failClosed: false });
  ctx.stdout.write(`Protected the key: ${home.keyAge}${backups.length > 0 ? ` (and ${backups.length} backup${backups.length === 1 ? '' : 's'}: ${backups.join(', ')})` : ''}\n`);
  ctx.stderr.write("lsm: key.txt was zeroed and removed; 'lsm unlock' gives the passphrase to the keeper\n");
  return 0;
}
