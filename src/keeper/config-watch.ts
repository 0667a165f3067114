import { createHash } from 'node:crypto';
import { readRegular } from '../atomic.js';
import { memoFile } from '../file-memo.js';
import { errno } from '../errors.js';
import { parseConfigText, setting } from '../config.js';
import { CLASSES, STRICTNESS, evaluate, policyOfText, type Policy } from '../policy.js';
import type { Home } from '../home.js';

/**
 * config.yaml as the keeper sees it. The keeper reads it at unlock and looks at it again
 * before every request: any change is recorded (`config.changed`, digest and sections),
 * a tightening applies at once, and a loosening of `policy:` or `audit: on_failure`
 * waits for the passphrase (the next `lsm unlock`), so an agent that edits the file
 * gains nothing until the user unlocks again, and the morning's report shows the edit.
 */
export interface InForce {
  digest: string;
  text: string;
  policy: Policy;
  failOpen: boolean;
  sections: Record<string, string>;
}

export interface Change {
  digest: string;
  previous: string;
  sections: string[];
  loosened: string[];
  applied: boolean;
}

function readText(home: Home): string {
  try {
    return memoFile(home.config, 'text', () => readRegular(home.config).toString('utf8'));
  } catch (err) {
    if (errno(err) === 'ENOENT') return '';
    return `\0unreadable:${errno(err) ?? 'error'}`;
  }
}

const digestOf = (text: string) => createHash('sha256').update(text).digest('hex');

async function sectionsOf(home: Home, text: string): Promise<{ sections: Record<string, string>; failOpen: boolean }> {
  try {
    const tree = await parseConfigText(text, home.config);
    const sections: Record<string, string> = {};
    for (const [k, v] of Object.entries(tree)) sections[k] = digestOf(JSON.stringify(v ?? null)).slice(0, 16);
    const mode = setting(tree, 'audit', 'on_failure');
    return { sections, failOpen: typeof mode === 'string' && mode.trim().toLowerCase() === 'open' };
  } catch {
    return { sections: { '(malformed)': digestOf(text).slice(0, 16) }, failOpen: false };
  }
}

export async function readInForce(home: Home): Promise<InForce> {
  return inForceOf(home, readText(home));
}

/** What config.yaml's text would put in force (an unreadable file: a policy that refuses, as in every home). */
export async function inForceOf(home: Home, text: string): Promise<InForce> {
  const { sections, failOpen } = await sectionsOf(home, text);
  // The keeper's home is protected: `ask` has someone to ask.
  const policy = text.startsWith('\0unreadable:')
    ? { ...(await policyOfText('', home.config, true)), error: `cannot read ${home.config}: ${text.slice(12)}` }
    : await policyOfText(text, home.config, true);
  return { digest: digestOf(text), text, policy, failOpen, sections };
}

/** What `next` lets through that `prev` did not: the policy, audit on_failure, any change to mask:. */
export function loosenedBetween(prev: InForce, next: InForce): string[] {
  const loosened = loosenings(prev.policy, next.policy);
  if (next.failOpen && !prev.failOpen) loosened.push('audit on_failure: closed -> open');
  // mask: public: unmasks keys: any change to it waits for the passphrase.
  if (next.sections.mask !== prev.sections.mask) loosened.push('mask section changed');
  // approval: says where the passphrase is asked and which program asks it: any change waits too.
  if (next.sections.approval !== prev.sections.approval) loosened.push('approval section changed');
  return loosened;
}

// Each pattern of either policy, made concrete, and a few common envs: where the decisions are compared.
function probes(a: Policy, b: Policy): Array<[string, string]> {
  const out: Array<[string, string]> = [['x', 'prod'], ['x', 'production'], ['x', 'dev'], ['x', 'staging'], ['x', 'x']];
  for (const p of [a, b]) {
    for (const cls of CLASSES) {
      for (const r of p.rules[cls]) {
        // Each wildcard filled several ways: one filling may hit a more specific pattern
        // ('m*/prod' as 'mx/prod' beside a rule for 'mx/prod') that another escapes.
        for (const fill of ['x', '', 'zq9', 'prod', 'x-y_1']) {
          const concrete = r.pattern.replace(/\*/g, fill).replace(/\?/g, fill.slice(0, 1) || 'q');
          const slash = concrete.indexOf('/');
          const [app, env] = slash >= 0 ? [concrete.slice(0, slash), concrete.slice(slash + 1)] : ['x', concrete];
          if (app && env) out.push([app, env]);
        }
      }
    }
  }
  return out;
}

/** The classes and stores for which `next` decides less strictly than `prev`. */
export function loosenings(prev: Policy, next: Policy): string[] {
  const found: string[] = [];
  for (const cls of CLASSES) {
    for (const [app, env] of probes(prev, next)) {
      const before = evaluate(prev, cls, app, env);
      const after = evaluate(next, cls, app, env);
      if (STRICTNESS[after.decision] < STRICTNESS[before.decision]) {
        found.push(`policy ${cls} ${app}/${env}: ${before.decision} -> ${after.decision}`);
        break;
      }
    }
  }
  return found;
}

/** Compares config.yaml with what is in force; undefined when the file did not change. */
export async function checkConfig(home: Home, current: InForce): Promise<{ change: Change; next: InForce } | undefined> {
  const text = readText(home);
  // The same text (the memo's own string while the file is unchanged): no digest to compute.
  if (text === current.text) return undefined;
  const digest = digestOf(text);
  if (digest === current.digest) return undefined;
  const seen = await inForceOf(home, text);
  const names = new Set([...Object.keys(seen.sections), ...Object.keys(current.sections)]);
  const changed = [...names].filter((k) => seen.sections[k] !== current.sections[k]).sort();
  const loosened = loosenedBetween(current, seen);
  const applied = loosened.length === 0;
  const next: InForce = applied
    ? seen
    // Recorded once; what stays in force is the old policy, under the new file's digest.
    : { ...current, digest, sections: seen.sections };
  return { change: { digest, previous: current.digest, sections: changed, loosened, applied }, next };
}
