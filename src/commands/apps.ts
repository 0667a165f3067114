import { listStores } from '../store.js';
import { readConfig } from '../config.js';
import { record } from '../audit/record.js';
import { listFormat, table } from '../term/table.js';
import type { Context } from '../context.js';

/** App names from the store files, with the directory each is linked to. */
export async function run(ctx: Context, _args: string[], opts: { format?: string } = {}): Promise<number> {
  const format = listFormat(opts.format, ctx.stdout.isTTY);
  const config = await readConfig(ctx.home);
  const stores = listStores(ctx.home);
  const names = [...new Set(stores.map((s) => s.app))];
  for (const linked of Object.keys(config.apps)) if (!names.includes(linked)) names.push(linked);
  names.sort();
  await record(ctx, { event: 'apps', fields: { count: names.length } }, { failClosed: false });
  const envsOf = (app: string) => stores.filter((s) => s.app === app).map((s) => s.env);
  if (format === 'json') {
    ctx.stdout.write(`${JSON.stringify({ apps: names.map((n) => ({ app: n, envs: envsOf(n), linked: config.apps[n] ?? null })) })}\n`);
  } else if (format === 'lines') {
    if (names.length > 0) ctx.stdout.write(`${names.join('\n')}\n`);
  } else if (names.length === 0) {
    ctx.stdout.write("no apps yet: 'lsm link <app>' or 'lsm set <app> <env> KEY' makes one\n");
  } else {
    ctx.stdout.write(table(['APP', 'ENVS', 'LINKED TO'], names.map((n) => [n, envsOf(n).join(',') || '-', config.apps[n] ?? '-'])));
  }
  return 0;
}
