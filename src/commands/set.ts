import { LsmError, usage } from '../errors.js';
import { checkKey, shown } from '../names.js';
import { listStores } from '../store.js';
import { readConfig } from '../config.js';
import { vaultOf } from '../vault-of.js';
import { ask, readStdin } from '../term/prompt.js';
import { requireHome } from './common.js';
import { resolveTarget, splitPositional } from '../resolve.js';
import type { Context } from '../context.js';

type Source = 'argv' | 'stdin' | 'prompt';

/**
 * `set [app] [env] KEY [VALUE|-]`: the last two arguments are KEY VALUE, except that a
 * single argument is a KEY whose value is prompted for (TTY) or read from stdin.
 * `lsm set myapp KEY` would store key "myapp": a lowercase key that is also an app or
 * env name is refused as ambiguous rather than stored, and so is `lsm set prod KEY v`
 * when prod is no app but an env: it would create an app named prod.
 */
export async function run(ctx: Context, args: string[]): Promise<number> {
  if (args.length === 0) throw usage('missing KEY', 'lsm set [app] [env] KEY [VALUE|-]');
  const single = args.length === 1;
  const pos = splitPositional(args, single ? 1 : 2, ctx.flags);
  const key = checkKey(pos.rest[0]);
  requireHome(ctx);
  if (!single && key !== key.toUpperCase()) await refuseAmbiguous(ctx, key, args);
  if (pos.app !== undefined && pos.env === undefined) await refuseEnvAsApp(ctx, pos.app, key);
  const target = await resolveTarget(ctx, pos);
  const rest = pos.rest;
  requireHome(ctx);
  const [value, source] = await valueOf(ctx, key, single ? undefined : rest[1]);
  const action = await (await vaultOf(ctx)).set(target, key, value, source);
  // Said to a person at a terminal only; a script's stderr stays quiet.
  if (ctx.stderr.isTTY) {
    const where = `${target.app}/${target.env}`;
    ctx.stderr.write(action === 'added' ? `added ${key} to ${where}\n` : action === 'changed' ? `changed ${key} in ${where}\n` : `${key} in ${where} unchanged (same value)\n`);
  }
  return 0;
}

async function valueOf(ctx: Context, key: string, given: string | undefined): Promise<[string, Source]> {
  if (given !== undefined && given !== '-') return [given, 'argv'];
  if (given === undefined && ctx.stdin.isTTY) {
    const v = await ask(ctx.stdin, ctx.stderr, `Value for ${key}: `, true);
    if (v === '') throw new LsmError('usage', 'no value entered', { hint: `type the value at the prompt, or store an empty one with: lsm set ${key} ''` });
    return [v, 'prompt'];
  }
  const raw = await readStdin(ctx.stdin);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new LsmError('usage', 'the value read from stdin is not UTF-8 text', { hint: 'store binary data base64-encoded' });
  }
  // `echo value | lsm set KEY` adds one newline that is not part of the value.
  const value = text.replace(/\r?\n$/, '');
  // An empty stdin is a failed producer far more often than a wish (`printf %s "$TOKEN" |
  // lsm set KEY -` with TOKEN unset, `sops -d` failing): it would silently blank the
  // secret. An empty value is stored only when given as one: lsm set KEY ''.
  if (value === '') {
    throw new LsmError('usage', given === undefined
      ? `no value for ${key} on stdin, and stdin is not a terminal to prompt on`
      : `the value for ${key} read from stdin is empty; nothing was changed`, {
      hint: `pass it: lsm set ${key} VALUE, pipe it: ... | lsm set ${key} -, or store an empty value with lsm set ${key} ''`,
    });
  }
  return [value, 'stdin'];
}

async function refuseAmbiguous(ctx: Context, key: string, args: string[]): Promise<void> {
  const config = await readConfig(ctx.home);
  const names = new Set<string>(Object.keys(config.apps));
  if (config.env) names.add(config.env);
  for (const s of listStores(ctx.home)) {
    names.add(s.app);
    names.add(s.env);
  }
  if (!names.has(key)) return;
  // The arguments before the last are names (checked); the last may be a value: not repeated.
  const store = args.slice(0, -1);
  const [a, e] = store.length === 2 ? store : [store[0], '<env>'];
  throw usage(`ambiguous: ${shown(key)} is an app or env name, so this would store a key named ${shown(key)} (the last two arguments of set are KEY VALUE)`, [
    'to name the store and then the key:',
    `  lsm set ${a} ${e} KEY -    (the value on stdin)`,
    `  lsm set --app ${a} --env ${e} KEY    (prompted for on a terminal)`,
  ].join('\n'));
}

/** `lsm set prod KEY v`: one leading name is the app, which would create app `prod` when prod is meant as an env. */
async function refuseEnvAsApp(ctx: Context, name: string, key: string): Promise<void> {
  const config = await readConfig(ctx.home);
  const stores = listStores(ctx.home);
  if (Object.hasOwn(config.apps, name) || stores.some((s) => s.app === name)) return;
  if (name !== config.env && !stores.some((s) => s.env === name)) return;
  throw usage(`ambiguous: ${shown(name)} is an env name and no app, so this would create an app named ${shown(name)}`, [
    `to set ${key} in env ${name} of this directory's app:`,
    `  lsm set --env ${name} ${key} -    (the value on stdin)`,
    `to create the app ${name}:`,
    `  lsm set --app ${name} ${key} -`,
  ].join('\n'));
}
