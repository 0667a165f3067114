import { LsmError, usage } from '../errors.js';
import { checkName } from '../names.js';
import { listStores, removeStore } from '../store.js';
import { editConfig, readConfig } from '../config.js';
import { readRegistry, updateRegistry } from '../canary.js';
import { record } from '../audit/record.js';
import { confirm } from '../term/prompt.js';
import { stdinIsTTY } from '../term/tty.js';
import { requireHome } from './common.js';
import type { Target } from '../resolve.js';
import type { Context } from '../context.js';

/**
 * `apps rm APP` and `envs rm APP ENV`: the store files go (each under its lock, each
 * recorded first), with the app's link and its canaries' registry entries. Secrets are
 * lost, so a terminal is asked and anything else needs --force.
 */
export async function removeApp(ctx: Context, args: string[], opts: { force?: boolean }): Promise<number> {
  if (args.length !== 1) throw usage(args.length === 0 ? 'missing APP' : 'too many arguments', 'lsm apps rm APP');
  const app = checkName('app', args[0]);
  requireHome(ctx);
  const stores = listStores(ctx.home).filter((s) => s.app === app);
  const linked = (await readConfig(ctx.home)).apps[app];
  if (stores.length === 0 && linked === undefined) {
    throw new LsmError('not_found', `no app ${app}`, { hint: "'lsm apps' lists the apps there are" });
  }
  const what = stores.length > 0 ? `${app} and its ${stores.length} store${stores.length === 1 ? '' : 's'} (${stores.map((s) => s.env).join(', ')})` : `the link of ${app}`;
  if (!(await agreed(ctx, `Remove ${what}? The secrets cannot be recovered.`, opts.force, `lsm apps rm ${app} --force`))) return 1;
  const removed = await removeAll(ctx, stores);
  if (linked !== undefined) await editConfig(ctx.home, (doc) => { doc.deleteIn(['apps', app]); });
  await record(ctx, { event: 'app.remove', app, fields: { envs: removed, unlinked: linked !== undefined } }, { failClosed: false });
  ctx.stdout.write(`Removed ${app}${removed.length > 0 ? ` (${removed.join(', ')})` : ''}${linked !== undefined ? `; ${linked} is no longer linked` : ''}\n`);
  return 0;
}

export async function removeEnv(ctx: Context, args: string[], opts: { force?: boolean }): Promise<number> {
  if (args.length !== 2) throw usage(args.length < 2 ? 'missing APP or ENV' : 'too many arguments', 'lsm envs rm APP ENV');
  const t = { app: checkName('app', args[0]), env: checkName('env', args[1]) };
  requireHome(ctx);
  if (!listStores(ctx.home).some((s) => s.app === t.app && s.env === t.env)) {
    throw new LsmError('not_found', `no store for ${t.app}/${t.env}`, { hint: `'lsm envs ${t.app}' lists its environments` });
  }
  if (!(await agreed(ctx, `Remove the store ${t.app}/${t.env}? Its secrets cannot be recovered.`, opts.force, `lsm envs rm ${t.app} ${t.env} --force`))) return 1;
  const removed = await removeAll(ctx, [t]);
  if (removed.length === 0) throw new LsmError('not_found', `no store for ${t.app}/${t.env}`);
  ctx.stdout.write(`Removed ${t.app}/${t.env}\n`);
  return 0;
}

async function agreed(ctx: Context, question: string, force: boolean | undefined, forced: string): Promise<boolean> {
  if (force) return true;
  if (!stdinIsTTY()) {
    throw new LsmError('usage', 'refusing to remove secrets without a terminal to ask on', { hint: `pass --force: ${forced}` });
  }
  const yes = await confirm(ctx.stdin, ctx.stderr, question);
  if (!yes) ctx.stderr.write('lsm: nothing removed\n');
  return yes;
}

// Each store's event is written under its lock before the file goes: a removal that
// cannot be recorded does not happen.
async function removeAll(ctx: Context, stores: Target[]): Promise<string[]> {
  const removed: string[] = [];
  for (const t of stores) {
    const gone = await removeStore(ctx.home, t, () => record(ctx, { event: 'env.remove', ...t, fields: {} }, { failClosed: true }));
    if (!gone) continue;
    removed.push(t.env);
    let decoys = false;
    try {
      decoys = readRegistry(ctx.home).some((c) => c.app === t.app && c.env === t.env);
    } catch (err) {
      ctx.stderr.write(`lsm: warning: ${(err as Error).message}; its entries for ${t.app}/${t.env} stay\n`);
    }
    if (decoys) await updateRegistry(ctx.home, (list) => ({ list: list.filter((c) => !(c.app === t.app && c.env === t.env)), result: undefined }));
  }
  return removed;
}
