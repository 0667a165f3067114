import { checkName } from '../names.js';
import { listStores } from '../store.js';
import { readConfig } from '../config.js';
import { appForDir } from '../resolve.js';
import { LsmError, usage } from '../errors.js';
import { record } from '../audit/record.js';
import { listFormat, table } from '../term/table.js';
import type { Context } from '../context.js';

/** The envs of one app; unlike the original, it needs no default env to work. */
export async function run(ctx: Context, args: string[], opts: { format?: string } = {}): Promise<number> {
  if (args.length > 1) throw usage('too many arguments', 'lsm envs [app]');
  const format = listFormat(opts.format, ctx.stdout.isTTY);
  // Read first whatever decides the app: a malformed config.yaml is reported even when --app is given.
  const config = await readConfig(ctx.home);
  const app = args[0] ?? ctx.flags.app ?? appForDir(config, ctx.cwd);
  if (!app) throw new LsmError('no_app', 'cannot determine the app', { hint: 'pass it: lsm envs <app>' });
  checkName('app', app);
  const envs = listStores(ctx.home).filter((s) => s.app === app).map((s) => s.env);
  await record(ctx, { event: 'envs', app, fields: { count: envs.length } }, { failClosed: false });
  if (format === 'json') ctx.stdout.write(`${JSON.stringify({ app, envs })}\n`);
  else if (format === 'lines') {
    if (envs.length > 0) ctx.stdout.write(`${envs.join('\n')}\n`);
  } else if (envs.length === 0) ctx.stdout.write(`${app} has no stores\n`);
  else ctx.stdout.write(table(['ENV'], envs.map((e) => [e])));
  return 0;
}
