import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { LsmError, errno, ioError } from './errors.js';
import { readRegular, writeFileAtomic } from './atomic.js';
import { withLockAsync } from './lock.js';
import { isKey, isName } from './names.js';
import { record } from './audit/record.js';
import { shipSoon } from './audit/trigger.js';
import type { Context } from './context.js';
import type { Home } from './home.js';
import type { Target } from './resolve.js';

/**
 * Canary secrets: decoys with realistic values, stored like any secret so that `list`
 * and `dump` show them, and named in a registry in the home, `canaries.json` (0600),
 * which holds {app, env, name, like, created} and never a value. Not a marker inside
 * the store: `dump` writes the store's text verbatim, and a marker there would tell the
 * reader of a dumped .env which key is the decoy. Only lsm writes the registry, under
 * a lock; no project file or variable is read for it.
 */

export const KINDS = ['aws', 'stripe', 'github', 'generic'] as const;
export type Kind = (typeof KINDS)[number];

export interface Canary {
  app: string;
  env: string;
  name: string;
  like: Kind;
  created: string;
}

export const registryPath = (home: Home): string => join(home.dir, 'canaries.json');

const UPPER32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64 = `${ALNUM}+/`;

function draw(alphabet: string, n: number, rand: (max: number) => number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[rand(alphabet.length)];
  return s;
}

/**
 * A value in the format the real service issues, so that a reader cannot tell the
 * decoy by its shape: AWS access key ids (AKIA + 16 base32) or, for a name that says
 * SECRET, 40-character secret keys; Stripe live secret keys; GitHub classic tokens; a
 * 32-character token otherwise.
 */
export function generate(like: Kind, name: string, rand: (max: number) => number = randomInt): string {
  switch (like) {
    case 'aws':
      return /SECRET/i.test(name) ? draw(B64, 40, rand) : `AKIA${draw(UPPER32, 16, rand)}`;
    case 'stripe':
      return `sk_live_${draw(ALNUM, 24, rand)}`;
    case 'github':
      return `ghp_${draw(ALNUM, 36, rand)}`;
    case 'generic':
      return draw(ALNUM, 32, rand);
  }
}

/** The kind a name suggests, when --like is not given. */
export function guessKind(name: string): Kind {
  const n = name.toUpperCase();
  if (/(^|_)AWS(_|$)/.test(n)) return 'aws';
  if (/STRIPE/.test(n)) return 'stripe';
  if (/(^|_)(GITHUB|GH)(_|$)/.test(n)) return 'github';
  return 'generic';
}

export function checkKind(v: string): Kind {
  if ((KINDS as readonly string[]).includes(v)) return v as Kind;
  throw new LsmError('usage', `--like: unknown kind ${JSON.stringify(v)}`, { hint: `use one of ${KINDS.join(', ')}` });
}

function valid(c: unknown): c is Canary {
  if (c === null || typeof c !== 'object') return false;
  const o = c as Record<string, unknown>;
  return typeof o.app === 'string' && isName(o.app) && typeof o.env === 'string' && isName(o.env)
    && typeof o.name === 'string' && isKey(o.name) && typeof o.like === 'string' && (KINDS as readonly string[]).includes(o.like)
    && typeof o.created === 'string';
}

/** The registry. A missing file is empty; a malformed one throws LsmError('config'). */
export function readRegistry(home: Home): Canary[] {
  const path = registryPath(home);
  let text: string;
  try {
    text = readRegular(path).toString('utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return [];
    throw ioError('read', path, err);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const list = (data as { canaries?: unknown } | undefined)?.canaries;
  if (!Array.isArray(list) || !list.every(valid)) {
    throw new LsmError('config', `${path} is malformed`, { hint: "lsm writes it; restore it from a backup, or remove it and add the canaries again with 'lsm canary add'" });
  }
  return list.map(({ app, env, name, like, created }) => ({ app, env, name, like, created }));
}

/**
 * The canary names of one store, for the commands that reveal values. A registry that
 * cannot be read does not stop the read (a tripwire must not break the tool it guards):
 * it is reported on `warn` and no key counts as a canary.
 */
export function canaryNames(home: Home, t: Target, warn: (msg: string) => void): Set<string> {
  try {
    return new Set(readRegistry(home).filter((c) => c.app === t.app && c.env === t.env).map((c) => c.name));
  } catch (err) {
    warn(`lsm: warning: canary registry unreadable (${err instanceof LsmError ? err.message : 'error'}); canary reads are not detected\n`);
    return new Set();
  }
}

function serialize(list: Canary[]): string {
  return `${JSON.stringify({ version: 1, canaries: list }, null, 2)}\n`;
}

/** Changes the registry under its lock, atomically, 0600. */
export async function updateRegistry<R>(home: Home, fn: (list: Canary[]) => { list: Canary[]; result: R }): Promise<R> {
  const path = registryPath(home);
  return withLockAsync(`${path}.lock`, async () => {
    const { list, result } = fn(readRegistry(home));
    writeFileAtomic(path, serialize(list), 0o600);
    return result;
  });
}

/** Drops the registry entries of `names` in store `t`: their decoys are gone. */
export async function retireCanaries(home: Home, t: Target, names: string[]): Promise<void> {
  await updateRegistry(home, (list) => ({
    list: list.filter((c) => !(c.app === t.app && c.env === t.env && names.includes(c.name))),
    result: undefined,
  }));
}

export const CANARY_READ = 'canary.read';

/**
 * Records that canaries were revealed (or, with outcome `denied`, asked for and
 * refused), one `canary.read` per key, before the value is shown; then asks for the
 * log to be shipped at once where shipping is on. The value is never in the event.
 */
export async function recordCanaryReads(
  ctx: Context,
  t: Target,
  names: Iterable<string>,
  command: string,
  outcome: 'ok' | 'denied' = 'ok',
): Promise<void> {
  const keys = [...names];
  if (keys.length === 0) return;
  for (const key of keys) {
    await record(ctx, { event: CANARY_READ, ...t, outcome, fields: { key, command } }, { failClosed: outcome === 'ok' });
  }
  await shipSoon(ctx);
}
