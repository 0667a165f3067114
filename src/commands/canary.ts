import { LsmError, usage } from '../errors.js';
import { checkKey, checkName } from '../names.js';
import { loadStore } from '../store.js';
import { record } from '../audit/record.js';
import { checkKind, generate, guessKind, readRegistry, updateRegistry, type Canary } from '../canary.js';
import { changeStore, identityOf, requireHome, targetOf } from './common.js';
import type { Command } from 'commander';
import { listFormat } from '../term/table.js';
import type { Context } from '../context.js';

/** `lsm canary add|list|remove`: one module, the subcommand is the commander command's name. */
export async function run(ctx: Context, args: string[], opts: { like?: string; format?: string }, cmd: Command): Promise<number> {
  const sub = cmd.name();
  if (sub === 'add') return add(ctx, args, opts.like);
  if (sub === 'remove') return remove(ctx, args);
  return list(ctx, args, opts.format);
}

async function add(ctx: Context, args: string[], likeFlag: string | undefined): Promise<number> {
  if (args.length === 0) throw usage('missing NAME', 'lsm canary add [app] [env] NAME [--like aws|stripe|github|generic]');
  const { target, rest } = await targetOf(ctx, args, 1);
  const name = checkKey(rest[0]);
  const like = likeFlag === undefined ? guessKind(name) : checkKind(likeFlag);
  const id = await identityOf(ctx);
  const where = `${target.app}/${target.env}`;
  const exists = () => new LsmError('exists', `${name} already exists in ${where}; a canary never replaces a secret`, {
    hint: 'choose a name the store does not have (a tempting one: AWS_SECRET_ACCESS_KEY, STRIPE_LIVE_KEY...)',
  });
  const { doc } = await loadStore(ctx.home, target, id);
  if (doc.has(name)) throw exists();
  // Registered before it is stored, so the decoy is never in a store unregistered.
  const entry: Canary = { ...target, name, like, created: ctx.now().toISOString() };
  await updateRegistry(ctx.home, (list) => ({ list: [...list.filter((c) => !same(c, entry)), entry], result: undefined }));
  try {
    await changeStore(ctx, target, id, 'canary.add', () => ({ key: name, like }), (d) => {
      if (d.has(name)) throw exists();
      d.set(name, generate(like, name));
      return { changed: true, result: undefined };
    });
  } catch (err) {
    await updateRegistry(ctx.home, (list) => ({ list: list.filter((c) => !same(c, entry)), result: undefined })).catch(() => {});
    throw err;
  }
  ctx.stdout.write(`Added canary ${name} to ${where} (${like}). A get, dump or edit that reveals it is recorded as canary.read.\n`);
  return 0;
}

function same(a: Canary, b: { app: string; env: string; name: string }): boolean {
  return a.app === b.app && a.env === b.env && a.name === b.name;
}

async function remove(ctx: Context, args: string[]): Promise<number> {
  if (args.length === 0) throw usage('missing NAME', 'lsm canary remove [app] [env] NAME');
  const { target, rest } = await targetOf(ctx, args, 1);
  const name = checkKey(rest[0]);
  const id = await identityOf(ctx);
  const key = { ...target, name };
  if (!readRegistry(ctx.home).some((c) => same(c, key))) {
    await record(ctx, { event: 'canary.remove', ...target, outcome: 'error', fields: { key: name, reason: 'not_found' } }, { failClosed: false });
    throw new LsmError('not_found', `${name} is not a canary of ${target.app}/${target.env}`, { hint: "'lsm canary list' shows them" });
  }
  // The decoy goes first: a registry entry without its key is harmless, a decoy without an entry is not.
  const inStore = await changeStore(ctx, target, id, 'canary.remove', () => ({ key: name }), (d) => {
    const had = d.delete(name);
    return { changed: had, result: had };
  });
  await updateRegistry(ctx.home, (list) => ({ list: list.filter((c) => !same(c, key)), result: undefined }));
  if (!inStore) await record(ctx, { event: 'canary.remove', ...target, fields: { key: name, in_store: false } }, { failClosed: false });
  ctx.stdout.write(`Removed canary ${name} from ${target.app}/${target.env}.\n`);
  return 0;
}

async function list(ctx: Context, args: string[], formatOpt?: string): Promise<number> {
  if (args.length > 2) throw usage('too many arguments', 'lsm canary list [app] [env]');
  const format = listFormat(formatOpt, ctx.stdout.isTTY);
  requireHome(ctx);
  const app = ctx.flags.app ?? args[0];
  const env = ctx.flags.env ?? (ctx.flags.app !== undefined ? args[0] : args[1]);
  if (app !== undefined) checkName('app', app);
  if (env !== undefined) checkName('env', env);
  const all = readRegistry(ctx.home).filter((c) => (app === undefined || c.app === app) && (env === undefined || c.env === env));
  await record(ctx, { event: 'canary.list', ...(app ? { app } : {}), ...(env ? { env } : {}), fields: { count: all.length } }, { failClosed: false });
  if (format === 'json') {
    ctx.stdout.write(`${JSON.stringify({ canaries: all.map(({ app, env, name, like, created }) => ({ app, env, name, like, created })) })}\n`);
    return 0;
  }
  if (all.length === 0) {
    ctx.stderr.write("lsm: no canaries; add one with 'lsm canary add [app] [env] NAME'\n");
    return 0;
  }
  const rows = [['APP', 'ENV', 'NAME', 'LIKE', 'CREATED'], ...all.map((c) => [c.app, c.env, c.name, c.like, c.created])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
  if (format === 'lines') lines.shift();
  ctx.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
