import { LsmError, errno, ioError } from './errors.js';
import { isName, shown } from './names.js';
import { parseMini, type Plain } from './miniyaml.js';
import { readRegular, writeFileAtomic } from './atomic.js';
import { withLockAsync } from './lock.js';
import type { Home } from './home.js';

/**
 * config.yaml in the lsm home: the default env, the registry of linked projects, and
 * the user's own settings (audit, otlp, policy, suspicious). It is the only file that
 * sets policy: nothing in a project directory can loosen what it says.
 */
export interface Config {
  env?: string;
  apps: Record<string, string>;
  /** The whole parsed tree, for the sections later features read. */
  tree: { [k: string]: Plain };
}

export type ConfigTree = { [k: string]: Plain };

async function parseFull(text: string, path: string): Promise<ConfigTree> {
  const YAML = await import('yaml');
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line;
    throw new LsmError('config', `${path}${line ? `:${line}` : ''}: malformed YAML: ${e.message.split('\n')[0]}`, {
      hint: 'fix the file by hand, or move it away and run lsm again',
    });
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // The yaml library refuses alias bombs here, with a ReferenceError that quotes no input.
    throw new LsmError('config', `${path}: malformed YAML: ${err instanceof Error ? err.message.split('\n')[0] : 'unreadable'}`, {
      hint: 'fix the file by hand, or move it away and run lsm again',
    });
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new LsmError('config', `${path}: expected a mapping at the top level`);
  }
  return value as ConfigTree;
}

export async function parseConfigText(text: string, path: string): Promise<ConfigTree> {
  return parseMini(text) ?? (await parseFull(text, path));
}

export async function readConfig(home: Home): Promise<Config> {
  let text: string;
  try {
    text = readRegular(home.config).toString('utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return { apps: {}, tree: {} };
    // Inside `lsm shield` the home's files cannot be read: the keeper says what a client needs.
    if (errno(err) === 'EACCES') {
      const { configFromKeeper } = await import('./keeper/client-config.js');
      const via = await configFromKeeper(home);
      if (via) return via;
    }
    throw ioError('read', home.config, err);
  }
  const tree = await parseConfigText(text, home.config);
  return fromTree(tree, home.config);
}

function fromTree(tree: ConfigTree, path: string): Config {
  const env = tree.env;
  if (env !== undefined && env !== null && typeof env !== 'string') {
    throw new LsmError('config', `${path}: 'env' must be a string`);
  }
  // Names from this file become file names (<app>.<env>.age) as surely as typed ones: one
  // with a slash or '..' would put a store outside the home.
  if (env) checkNameIn(path, 'env', env);
  const apps: Record<string, string> = {};
  const rawApps = tree.apps;
  if (rawApps !== undefined && rawApps !== null) {
    if (typeof rawApps !== 'object' || Array.isArray(rawApps)) {
      throw new LsmError('config', `${path}: 'apps' must be a mapping of app name to directory`);
    }
    for (const [name, dir] of Object.entries(rawApps)) {
      checkNameIn(path, 'app', name);
      if (typeof dir === 'string') apps[name] = dir;
    }
  }
  return { env: env || undefined, apps, tree };
}

/** A name read from a file, refused as the command line refuses it, naming the file. */
export function checkNameIn(path: string, kind: 'app' | 'env', name: string): string {
  if (!isName(name)) {
    throw new LsmError('config', `${path}: ${shown(name)} is not a valid ${kind} name`, {
      hint: `${kind} names use letters, digits, '_' and '-' (at most 64, not starting with '-'); fix or remove it in that file`,
    });
  }
  return name;
}

/** Reads a nested setting, e.g. get(tree, 'audit', 'on_failure'). */
export function setting(tree: ConfigTree, ...path: string[]): Plain | undefined {
  let cur: Plain | undefined = tree;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as ConfigTree)[p];
  }
  return cur;
}

/** A YAML boolean setting is on: `true` (or the string "true", quoted). */
export function isTrue(v: unknown): boolean {
  return v === true || v === 'true';
}

export const DEFAULT_CONFIG = `# lsm configuration (created by lsm init)
env: dev

# Audit log: a command that reveals or changes a secret fails when its event cannot
# be recorded (closed). 'open' turns that into a warning.
# audit:
#   on_failure: closed

# Mirror audit events, redacted, to an OpenTelemetry collector (see docs/observability.md).
# otlp:
#   enabled: false
#   endpoint: http://localhost:4318
#   headers: {}
#   batch_size: 100
#   timeout: 10s
#   max_retries: 5

# Egress policy: who may see plaintext (get, dump, edit, unmasked exec, gh push), per
# caller (agent, unattended, human) and env glob or app/env: allow, reason (needs
# --reason) or deny; the most specific pattern wins (see docs/policy.md). Without it:
# agents need a reason for prod*, everything else is allowed and recorded.
# policy:
#   agent:      { "prod*": reason, "billing/*": deny, "*": allow }
#   unattended: { "prod*": deny }
`;

/**
 * Changes config.yaml under its lock, keeping the user's comments, order and unknown
 * keys (the yaml Document API), and writes it back atomically with mode 0600.
 */
export async function editConfig(home: Home, mutate: (doc: import('yaml').Document) => void): Promise<void> {
  const YAML = await import('yaml');
  await withLockAsync(`${home.config}.lock`, async () => {
    let text = '';
    try {
      text = readRegular(home.config).toString('utf8');
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw ioError('read', home.config, err);
    }
    const doc = YAML.parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length > 0) await parseFull(text, home.config); // throws the located error
    // A file whose apps or env a reader would refuse is not edited either: say what is wrong.
    fromTree(await parseConfigText(text, home.config), home.config);
    if (doc.contents === null) doc.contents = doc.createNode({}) as never;
    mutate(doc);
    const indent = detectIndent(text);
    writeFileAtomic(home.config, doc.toString({ indent, lineWidth: 0 }));
  });
}

// Homes made by the original Go lsm use 4-space indentation; keep whatever the file has.
function detectIndent(text: string): number {
  const m = /^[^\s#][^\n]*:\s*\n( +)\S/m.exec(text);
  return m ? Math.min(Math.max(m[1].length, 2), 8) : 2;
}
