import { LsmError, usage } from '../errors.js';
import { loadStore } from '../store.js';
import { record } from '../audit/record.js';
import { listFormat, table } from '../term/table.js';
import { identityOf, targetOf } from './common.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[], opts: { format?: string } = {}): Promise<number> {
  if (args.length > 2) throw usage('too many arguments', 'lsm list [app] [env]');
  const format = listFormat(opts.format, ctx.stdout.isTTY);
  const { target } = await targetOf(ctx, args, 0);
  const id = await identityOf(ctx);
  const { doc, exists } = await loadStore(ctx.home, target, id);
  const keys = doc.keys();
  // A store that does not exist is an error, as for get, exec and dump: a typo in an
  // app or env name must not look like an empty store.
  if (!exists) {
    await record(ctx, { event: 'list', ...target, outcome: 'error', fields: { count: 0, reason: 'no_store' } }, { failClosed: false });
    throw new LsmError('not_found', `no store for ${target.app}/${target.env}`, { hint: `'lsm envs ${target.app}' lists its environments; 'lsm set ${target.app} ${target.env} KEY' creates it` });
  }
  await record(ctx, { event: 'list', ...target, fields: { count: keys.length } }, { failClosed: false });
  if (format === 'json') ctx.stdout.write(`${JSON.stringify({ app: target.app, env: target.env, keys })}\n`);
  else if (format === 'lines') {
    if (keys.length > 0) ctx.stdout.write(`${keys.join('\n')}\n`);
  } else if (keys.length === 0) ctx.stdout.write(`${target.app}/${target.env} has no keys\n`);
  else ctx.stdout.write(table(['KEY'], keys.map((k) => [k])));
  return 0;
}
