import { listStores } from '../store.js';
import { readConfig } from '../config.js';
import { record } from '../audit/record.js';
import type { Context } from '../context.js';

/** App names from the store files, with the directory each is linked to. */
export async function run(ctx: Context): Promise<number> {
  const config = await readConfig(ctx.home);
  const names = [...new Set(listStores(ctx.home).map((s) => s.app))];
  for (const linked of Object.keys(config.apps)) if (!names.includes(linked)) names.push(linked);
  names.sort();
  await record(ctx, { event: 'apps', fields: { count: names.length } }, { failClosed: false });
  if (!ctx.stdout.isTTY) {
    if (names.length > 0) ctx.stdout.write(`${names.join('\n')}\n`);
    return 0;
  }
  const width = Math.max(0, ...names.map((n) => n.length));
  for (const n of names) {
    const dir = config.apps[n];
    ctx.stdout.write(dir ? `${n.padEnd(width)}  -> ${dir}\n` : `${n}\n`);
  }
  return 0;
}
