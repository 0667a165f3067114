import { LsmError, usage } from '../errors.js';
import { checkKey, checkName } from '../names.js';
import { record } from '../audit/record.js';
import { checkKind, guessKind, readRegistry } from '../canary.js';
import { requireHome, targetOf } from './common.js';
import { vaultOf } from '../vault-of.js';
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
  requireHome(ctx);
  await (await vaultOf(ctx)).canary(target, { action: 'add', name, like });
  const where = `${target.app}/${target.env}`;
  ctx.stdout.write(`Added canary ${name} to ${where} (${like}). A get, dump or edit that reveals it is recorded as canary.read.\n`);
  return 0;
}


async function remove(ctx: Context, args: string[]): Promise<number> {
  if (args.length === 0) throw usage('missing NAME', 'lsm canary remove [app] [env] NAME');
  const { target, rest } = await targetOf(ctx, args, 1);
  const name = checkKey(rest[0]);
  requireHome(ctx);
  await (await vaultOf(ctx)).canary(target, { action: 'remove', name });
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
