import { usage } from './errors.js';
import { checkName } from './names.js';
import type { Context } from './context.js';

export interface Positional {
  app?: string;
  env?: string;
  rest: string[];
}

/**
 * Peels the optional leading `[app] [env]` off `args`, leaving `required` trailing
 * arguments. One extra argument is the app (or the env when only --app is given).
 * Surplus arguments are an error, never silently ignored, and anything that is not a
 * valid name (a path, '-') is refused rather than taken as an app.
 */
export function splitPositional(args: string[], required: number, flags: Context['flags']): Positional {
  const extra = args.length - required;
  if (extra <= 0) return { rest: args };
  const max = (flags.app !== undefined ? 0 : 1) + (flags.env !== undefined ? 0 : 1);
  if (extra > max) {
    throw usage('too many arguments', max === 0 ? 'both --app and --env are given, so no positional app or env is expected' : undefined);
  }
  const lead = args.slice(0, extra);
  const rest = args.slice(extra);
  if (flags.app === undefined) {
    return { app: checkName('app', lead[0]), env: lead[1] === undefined ? undefined : checkName('env', lead[1]), rest };
  }
  return { env: checkName('env', lead[0]), rest };
}
