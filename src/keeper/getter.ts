import { checkName } from '../names.js';
import type { Context } from '../context.js';
import type { Getter } from '../vault.js';

type Call = <T>(ctx: Context, op: string, args: unknown) => Promise<T>;

/**
 * `get` through the keeper: the keeper chooses the store from `[app] [env]` as given and
 * the caller's cwd as /proc shows it, so this side reads no config and loads no crypto.
 */
export function keeperGetter(ctx: Context, call: Call): Getter {
  // An empty --app '' (an unset variable in a script) is refused here, as resolveTarget does.
  const flag = (kind: 'app' | 'env') => (ctx.flags[kind] === undefined ? undefined : checkName(kind, ctx.flags[kind]));
  return {
    get: (want, key, reason) => call<string>(ctx, 'get', { want: { app: flag('app') ?? want.app, env: flag('env') ?? want.env }, key, reason }),
  };
}
