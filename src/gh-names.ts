import { loadStore, warnTo } from './store.js';
import { enforceEgress } from './policy.js';
import { canaryNames } from './canary.js';
import { byteOrder, emptyStore } from './github.js';
import { identityOf } from './commands/common.js';
import type { Context } from './context.js';
import type { Target } from './resolve.js';
import type { GhNamesRequest } from './vault.js';

/**
 * The names `gh push` would send and `gh status` compares, where the key is: canaries
 * left out (a push may ask for them), byte order, an empty store refused before gh runs.
 * A push is plaintext egress: the policy is asked here, before its question, and a
 * refusal recorded. An allowed one records nothing yet: the names are in the log's rows
 * anyway, and the push records its intent once confirmed, when the values are revealed.
 */
export async function ghNames(ctx: Context, target: Target, req: GhNamesRequest): Promise<string[]> {
  const { doc } = await loadStore(ctx.home, target, await identityOf(ctx), { warn: warnTo(ctx) });
  const push = req.command === 'gh_push';
  const decoys = push && req.withCanaries ? new Set<string>() : canaryNames(ctx.home, target, (m) => ctx.stderr.write(m));
  const names = doc.keys().filter((k) => !decoys.has(k)).sort(byteOrder);
  if (names.length === 0) throw emptyStore(target);
  if (push) await enforceEgress(ctx, { command: 'gh_push', target, fields: { ...req.fields, names, count: names.length }, keys: names, reason: req.reason });
  return names;
}
