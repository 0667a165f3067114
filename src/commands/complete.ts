import { listStores } from '../store.js';
import { readConfig } from '../config.js';
import type { Context } from '../context.js';

/** `lsm __complete apps|envs`: names for shell completion, read from file names only. */
export async function run(ctx: Context, args: string[]): Promise<number> {
  const stores = listStores(ctx.home);
  const names = new Set<string>();
  if (args[0] === 'apps') {
    for (const s of stores) names.add(s.app);
    try {
      for (const a of Object.keys((await readConfig(ctx.home)).apps)) names.add(a);
    } catch { /* completion never fails loudly */ }
  } else if (args[0] === 'envs') {
    for (const s of stores) names.add(s.env);
  }
  if (names.size > 0) ctx.stdout.write(`${[...names].sort().join('\n')}\n`);
  return 0;
}
