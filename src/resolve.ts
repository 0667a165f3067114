import { readRegular } from './atomic.js';
import { join, sep } from 'node:path';
import { LsmError, errno, ioError, usage } from './errors.js';
import { checkName } from './names.js';
import { checkNameIn, parseConfigText, readConfig, type Config } from './config.js';
import type { Context } from './context.js';

/**
 * Which store a command acts on. app: --app, positional, .lsm.yaml in the cwd, the
 * linked project that is the cwd or its nearest ancestor. env: --env, positional,
 * .lsm.yaml, config.yaml `env:`. A project file may choose a store, never a policy.
 */
export interface Target {
  app: string;
  env: string;
}

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

interface ProjectFile {
  app?: string;
  env?: string;
}

async function readProjectFile(cwd: string): Promise<ProjectFile> {
  const path = join(cwd, '.lsm.yaml');
  let text: string;
  try {
    text = readRegular(path).toString('utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return {};
    throw ioError('read', path, err);
  }
  const tree = await parseConfigText(text, path);
  const pick = (k: 'app' | 'env'): string | undefined => {
    const v = tree[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new LsmError('config', `${path}: '${k}' must be a string`);
    return checkNameIn(path, k, v);
  };
  return { app: pick('app'), env: pick('env') };
}

/** The linked app whose directory is the cwd or its nearest ancestor. */
export function appForDir(config: Config, cwd: string): string | undefined {
  let best: string | undefined;
  let bestLen = -1;
  for (const name of Object.keys(config.apps).sort()) {
    const dir = config.apps[name];
    const inside = cwd === dir || cwd.startsWith(dir.endsWith(sep) ? dir : dir + sep);
    if (inside && dir.length > bestLen) {
      best = name;
      bestLen = dir.length;
    }
  }
  return best;
}

export async function resolveTarget(ctx: Context, pos: Positional, config?: Config): Promise<Target> {
  // An empty --app '' (an unset variable in a script) is refused, not taken as no flag.
  let app = ctx.flags.app !== undefined ? checkName('app', ctx.flags.app) : pos.app;
  let env = ctx.flags.env !== undefined ? checkName('env', ctx.flags.env) : pos.env;
  if (app && env) return { app, env };
  const project = await readProjectFile(ctx.cwd);
  app ??= project.app;
  env ??= project.env;
  if (!app || !env) {
    config ??= await readConfig(ctx.home);
    app ??= appForDir(config, ctx.cwd);
    env ??= config.env;
  }
  if (!app) {
    throw new LsmError('no_app', 'cannot determine the app', {
      hint: "run 'lsm link <app>' in this project, pass --app, or create .lsm.yaml with 'app: <name>'",
    });
  }
  if (!env) {
    throw new LsmError('no_env', 'cannot determine the environment', {
      hint: `pass --env, create .lsm.yaml with 'env: <name>', or set 'env:' in ${ctx.home.config}`,
    });
  }
  return { app, env };
}
