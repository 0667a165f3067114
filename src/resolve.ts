import { join, sep } from 'node:path';
import { LsmError, errno, ioError } from './errors.js';
import { checkName } from './names.js';
import type { Config } from './config.js';
import type { Context } from './context.js';
import type { Positional } from './positional.js';

export { splitPositional, type Positional } from './positional.js';

/**
 * Which store a command acts on. app: --app, positional, the linked project that is the
 * cwd or its nearest ancestor. env: --env, positional, .lsm.yaml, config.yaml `env:`.
 * `.lsm.yaml` in the cwd is a file anyone can write (a cloned repository, an agent), so
 * it may choose only within the link the user made: the env of the linked app, and an
 * app only when it is that app. What it chose is said on stderr and recorded (ctx.project).
 * A project file may never choose a policy.
 */
export interface Target {
  app: string;
  env: string;
}

interface ProjectFile {
  path: string;
  app?: string;
  env?: string;
}

/** What `.lsm.yaml` chose for the running command, for its audit events. */
export interface ProjectChoice {
  file: string;
  chose: ('app' | 'env')[];
}

async function readProjectFile(cwd: string): Promise<ProjectFile> {
  const path = join(cwd, '.lsm.yaml');
  // Loaded here, not at the top: a get through the keeper resolves its store in the keeper
  // and so never loads them (atomic.ts brings node:crypto).
  const [{ readRegular }, { checkNameIn, parseConfigText }] = await Promise.all([import('./atomic.js'), import('./config.js')]);
  let text: string;
  try {
    text = readRegular(path).toString('utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return { path };
    throw ioError('read', path, err);
  }
  const tree = await parseConfigText(text, path);
  const pick = (k: 'app' | 'env'): string | undefined => {
    const v = tree[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new LsmError('config', `${path}: '${k}' must be a string`);
    return checkNameIn(path, k, v);
  };
  return { path, app: pick('app'), env: pick('env') };
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
  const chose: ProjectChoice['chose'] = [];
  config ??= await (await import('./config.js')).readConfig(ctx.home);
  const linked = appForDir(config, ctx.cwd);
  if (!app && project.app) {
    if (project.app !== linked) {
      throw new LsmError('config', `${project.path} names app '${project.app}', but this directory is ${linked ? `linked to '${linked}'` : 'not linked to any app'}`, {
        hint: `.lsm.yaml may name only the app its directory is linked to (a cloned repository or an agent can write it): if this is ${project.app}, run 'lsm link ${project.app}' here; otherwise pass --app`,
      });
    }
    app = project.app;
    chose.push('app');
  }
  app ??= linked;
  if (!env && project.env) {
    if (app !== undefined && app === linked) {
      env = project.env;
      chose.push('env');
    } else {
      ctx.stderr.write(`lsm: ignoring 'env: ${project.env}' in ${project.path}: it applies only to the app this directory is linked to (${linked ?? 'none'}), not to ${app ?? 'an app given elsewhere'}\n`);
    }
  }
  env ??= config.env;
  if (!app) {
    throw new LsmError('no_app', 'cannot determine the app', {
      hint: "run 'lsm link <app>' in this project, or pass --app",
    });
  }
  if (!env) {
    throw new LsmError('no_env', 'cannot determine the environment', {
      hint: `pass --env, create .lsm.yaml with 'env: <name>' in a linked project, or set 'env:' in ${ctx.home.config}`,
    });
  }
  if (chose.length > 0) {
    ctx.project = { file: project.path, chose };
    ctx.stderr.write(`lsm: ${app}/${env}: the ${chose.join(' and ')} chosen by ${project.path}\n`);
  }
  return { app, env };
}
