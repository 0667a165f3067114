import { readRegular } from '../atomic.js';
import { memoFile } from '../file-memo.js';
import { errno } from '../errors.js';
import { parseMini, type Plain } from '../miniyaml.js';
import { sha256Hex } from './chain.js';

/**
 * What the log records of config.yaml: its SHA-256 (raw bytes: no parse on the common
 * path), and, only when that changed, the settings that decide what lsm lets through
 * (policy, audit, otlp; otlp header values are credentials and are left out) and which
 * of them loosened. A loosened policy or `on_failure: open` then shows the next morning.
 */

export const CONFIG_CHANGED_EVENT = 'config.changed';
/** The digest of a config.yaml that does not exist. */
export const NO_CONFIG = 'none';

export function configDigest(path: string): string {
  try {
    return memoFile(path, 'sha256', () => sha256Hex(readRegular(path)));
  } catch (err) {
    if (errno(err) === 'ENOENT') return NO_CONFIG;
    return `unreadable:${errno(err) ?? 'error'}`;
  }
}

type Flat = Record<string, string>;

function flatten(v: Plain | undefined, prefix: string, out: Flat): void {
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (prefix === 'otlp.headers') out[`${prefix}.${k}`] = '(set)';
      else flatten(x, `${prefix}.${k}`, out);
    }
  } else if (v !== undefined) out[prefix] = String(v);
}

/** The settings that matter, flattened (`policy.agent.prod*` -> `reason`); undefined when the file is outside the fast YAML subset. */
export function relevantSettings(path: string): Flat | undefined {
  let text: string;
  try {
    text = readRegular(path).toString('utf8');
  } catch {
    return {};
  }
  const tree = parseMini(text);
  if (tree === undefined) return undefined;
  const out: Flat = {};
  for (const section of ['policy', 'audit', 'otlp']) flatten(tree[section], section, out);
  return out;
}

const RANK: Record<string, number> = { allow: 0, reason: 1, deny: 2 };

/** What went from stricter to looser between two recorded settings. */
export function loosenings(before: Flat | undefined, after: Flat | undefined): string[] {
  if (after === undefined) return ['config.yaml is outside the simple YAML subset: its settings were not compared'];
  if (before === undefined) return [];
  const out: string[] = [];
  const v = (f: Flat, k: string) => (f[k] ?? '').trim().toLowerCase();
  if (v(after, 'audit.on_failure') === 'open' && v(before, 'audit.on_failure') !== 'open') out.push('audit.on_failure: open (a failed record no longer stops a read)');
  const shipped = (f: Flat) => ['true', 'yes', 'on'].includes(v(f, 'otlp.enabled'));
  if (shipped(before) && !shipped(after)) out.push('otlp shipping turned off');
  if (before['otlp.endpoint'] !== undefined && after['otlp.endpoint'] !== before['otlp.endpoint'] && shipped(after)) out.push('otlp.endpoint changed');
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!k.startsWith('policy.')) continue;
    const was = RANK[v(before, k)] ?? (k in before ? 2 : 0);
    const now = RANK[v(after, k)] ?? (k in after ? 2 : 0);
    if (now < was || (!(k in before) && now === 0)) out.push(`${k}: ${before[k] ?? '(none)'} -> ${after[k] ?? '(removed)'}`);
  }
  return out.slice(0, 20);
}
