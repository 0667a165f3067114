import { readRegular } from './atomic.js';
import { errno, LsmError } from './errors.js';
import { parseConfigText, setting, type ConfigTree } from './config.js';
import type { Home } from './home.js';

/**
 * Keys the user marked not secret (`mask: {public: [...]}` in the home's config.yaml):
 * `lsm exec` does not mask their values, so NODE_ENV=development does not turn every
 * "development" in the output into [masked]. Only config.yaml says so, never a project
 * file, a flag or the environment: an agent that could mark a key public could unmask
 * it. docs/policy.md is the reference.
 *
 * An entry is `KEY` (every store), `app/KEY` or `app/env/KEY`; `*` and `?` are
 * wildcards in each part. Key names match exactly, app and env names regardless of
 * case (as the policy's env patterns, for the same reason: a case-insensitive file
 * system).
 */

export interface PublicKeys {
  entries: string[];
  /** Set when `mask:` cannot be read: then nothing is public (every value is masked). */
  error?: string;
}

const PART = /^[A-Za-z0-9_*?-]{1,128}$/;

function glob(pattern: string, flags: string): RegExp {
  const body = pattern.replace(/[*?]|[^*?]+/g, (p) => (p === '*' ? '.*' : p === '?' ? '.' : p.replace(/[.+^${}()|[\]\\-]/g, '\\$&')));
  return new RegExp(`^${body}$`, flags);
}

/** Reads `mask.public` from a parsed config.yaml; never throws (a bad entry makes nothing public). */
export function parsePublic(tree: ConfigTree, path: string): PublicKeys {
  const raw = setting(tree, 'mask');
  if (raw === undefined || raw === null) return { entries: [] };
  const fail = (why: string): PublicKeys => ({ entries: [], error: `${path}: ${why}; every value is masked` });
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail("'mask' must be a mapping (mask: {public: [KEY, ...]})");
  for (const k of Object.keys(raw)) if (k !== 'public') return fail(`unknown setting mask.${k} (only mask.public)`);
  const list = (raw as { public?: unknown }).public;
  if (list === undefined || list === null) return { entries: [] };
  if (!Array.isArray(list)) return fail("'mask.public' must be a list of KEY, app/KEY or app/env/KEY");
  const entries: string[] = [];
  for (const e of list) {
    const parts = typeof e === 'string' ? e.split('/') : [];
    if (parts.length < 1 || parts.length > 3 || !parts.every((p) => PART.test(p))) {
      return fail(`mask.public: ${JSON.stringify(e)} is not KEY, app/KEY or app/env/KEY`);
    }
    entries.push(e as string);
  }
  return { entries };
}

/** Whether `key` of app/env is marked public. */
export function isPublic(keys: PublicKeys, app: string, env: string, key: string): boolean {
  return keys.entries.some((entry) => {
    const parts = entry.split('/');
    const k = parts.pop()!;
    if (!glob(k, '').test(key)) return false;
    if (parts.length >= 1 && !glob(parts[0], 'i').test(app)) return false;
    return parts.length < 2 || glob(parts[1], 'i').test(env);
  });
}

/**
 * The home's public keys. A config.yaml that never says "mask" is not parsed. An
 * unreadable or malformed one makes nothing public: masking more is the safe mistake.
 */
export async function loadPublic(home: Home): Promise<PublicKeys> {
  let text: string;
  try {
    // In the keeper: the file as accepted with the passphrase, not as it is now (an agent's edit).
    const { custody } = await import('./custody.js');
    text = custody()?.configText() ?? readRegular(home.config).toString('utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return { entries: [] };
    return { entries: [], error: `cannot read ${home.config}: ${errno(err) ?? 'error'}; every value is masked` };
  }
  // A YAML escape could spell the key without the word (as for the policy).
  if (!text.includes('mask') && !text.includes('\\')) return { entries: [] };
  try {
    return parsePublic(await parseConfigText(text, home.config), home.config);
  } catch (err) {
    return { entries: [], error: `${err instanceof LsmError ? err.message : `${home.config}: malformed YAML`}; every value is masked` };
  }
}
