import { LsmError, usage } from '../errors.js';
import { checkName } from '../names.js';
import { editConfig, readConfig } from '../config.js';
import { appForDir } from '../resolve.js';
import { record } from '../audit/record.js';
import { requireHome } from './common.js';
import type { Context } from '../context.js';

/** `unlink [app]`: forgets an app's directory (default: the app linked to the cwd); its stores stay. */
export async function run(ctx: Context, args: string[]): Promise<number> {
  if (args.length > 1) throw usage('too many arguments', 'lsm unlink [app]');
  requireHome(ctx);
  const config = await readConfig(ctx.home);
  const app = args[0] !== undefined ? checkName('app', args[0]) : appForDir(config, ctx.cwd);
  if (app === undefined) {
    throw new LsmError('not_found', `${ctx.cwd} is not linked to an app`, { hint: "'lsm apps' on a terminal shows each app's directory; 'lsm unlink <app>' names one" });
  }
  const dir = config.apps[app];
  if (dir === undefined) throw new LsmError('not_found', `${app} is not linked to a directory`, { hint: "'lsm apps' on a terminal shows each app's directory" });
  await editConfig(ctx.home, (doc) => { doc.deleteIn(['apps', app]); });
  await record(ctx, { event: 'unlink', app, fields: {} }, { failClosed: false });
  ctx.stdout.write(`Unlinked ${app} (was ${dir}); its stores are kept\n`);
  return 0;
}
