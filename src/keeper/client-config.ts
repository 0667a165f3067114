import { readConfig, type Config } from '../config.js';
import { isProtected } from '../vault.js';
import { PROTOCOL } from './protocol.js';
import type { Home } from '../home.js';

/**
 * config.yaml for a client that cannot read it (a process inside `lsm shield`): what
 * resolving a store and recording need (the default env, the links, the audit section),
 * never the rest (ship headers are credentials).
 */
export async function clientConfig(home: Home): Promise<Config> {
  const c = await readConfig(home);
  const tree: Config['tree'] = {};
  for (const k of ['env', 'apps', 'audit']) if (c.tree[k] !== undefined) tree[k] = c.tree[k]!;
  return { ...(c.env ? { env: c.env } : {}), apps: c.apps, tree };
}

/** The client side: undefined when the home is not protected (nobody to ask). */
export async function configFromKeeper(home: Home): Promise<Config | undefined> {
  if (!isProtected(home)) return undefined;
  const { sendRequest } = await import('./client.js');
  const { LsmError } = await import('../errors.js');
  const reply = await sendRequest(home, { v: PROTOCOL, op: 'config' });
  if (!reply.ok) throw new LsmError('io', `the keeper would not give config.yaml: ${reply.error.message}`, { exit: reply.error.exit });
  return reply.result as Config;
}
