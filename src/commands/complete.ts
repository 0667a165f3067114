import { listStores, loadStore } from '../store.js';
import { readConfig } from '../config.js';
import { loadIdentity } from '../identity.js';
import { resolveTarget, splitPositional } from '../resolve.js';
import { record } from '../audit/record.js';
import type { Context } from '../context.js';

/**
 * `lsm __complete apps|envs`: names for shell completion, read from file names only.
 * `lsm __complete keys -- <words of the line>`: the key names of the store those words
 * resolve to (get, delete and set), then app and env names while one may still come.
 * Names only, never values; a store that cannot be resolved or opened completes nothing.
 */
export async function run(ctx: Context, args: string[]): Promise<number> {
  const stores = listStores(ctx.home);
  const names: string[] = [];
  const apps = async () => {
    const set = new Set(stores.map((s) => s.app));
    try {
      for (const a of Object.keys((await readConfig(ctx.home)).apps)) set.add(a);
    } catch { /* completion never fails loudly */ }
    return [...set].sort();
  };
  const envs = () => [...new Set(stores.map((s) => s.env))].sort();
  if (args[0] === 'apps') names.push(...(await apps()));
  else if (args[0] === 'envs') names.push(...envs());
  else if (args[0] === 'keys') {
    const dash = ctx.argv.indexOf('--');
    const words = dash === -1 ? [] : ctx.argv.slice(dash + 1);
    const { positional, flags } = lineWords(words.slice(1));
    names.push(...(await keysOf(ctx, positional, flags)));
    if (positional.length < 2 && flags.app === undefined) names.push(...(await apps()));
    if (positional.length < 2 && flags.env === undefined) names.push(...envs());
  }
  const unique = [...new Set(names)];
  if (unique.length > 0) ctx.stdout.write(`${unique.join('\n')}\n`);
  return 0;
}

// The words after the command name: -a/-e (and --app=, --env=) taken out, other options dropped.
function lineWords(words: string[]): { positional: string[]; flags: { app?: string; env?: string } } {
  const positional: string[] = [];
  const flags: { app?: string; env?: string } = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '-a' || w === '--app') flags.app = words[++i];
    else if (w === '-e' || w === '--env') flags.env = words[++i];
    else if (w.startsWith('--app=')) flags.app = w.slice(6);
    else if (w.startsWith('--env=')) flags.env = w.slice(6);
    else if (w === '-d' || w === '--dir' || w === '--reason') i++;
    else if (!w.startsWith('-')) positional.push(w);
  }
  return { positional, flags };
}

async function keysOf(ctx: Context, positional: string[], flags: { app?: string; env?: string }): Promise<string[]> {
  try {
    const c = { ...ctx, flags: { ...ctx.flags, ...flags } };
    const target = await resolveTarget(c, splitPositional(positional, 0, c.flags));
    const { doc, exists } = await loadStore(ctx.home, target, await loadIdentity(ctx.home));
    if (!exists) return [];
    const keys = doc.keys();
    // Key names leave the store here, as with list: recorded as one.
    await record(ctx, { event: 'list', ...target, fields: { count: keys.length, completion: true } }, { failClosed: false });
    return keys;
  } catch {
    return [];
  }
}
