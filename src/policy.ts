import { existsSync } from 'node:fs';
import { readRegular } from './atomic.js';
import { EXIT, LsmError, errno } from './errors.js';
import { parseConfigText, setting } from './config.js';
import { actorOf } from './audit/actor.js';
import { custody } from './custody.js';
import { record } from './audit/record.js';
import { canaryNames, recordCanaryReads } from './canary.js';
import type { Plain } from './miniyaml.js';
import type { Context } from './context.js';
import type { Home } from './home.js';

/**
 * The egress policy: who may take plaintext out of lsm (`get`, `dump`, `edit`, and
 * `exec` with its output unmasked), per caller class and env. It lives only under
 * `policy:` in the home's config.yaml, never in a project file or the environment, so
 * a cloned repository or a prompt-injected command cannot loosen it. docs/policy.md is
 * the reference.
 */

export type Decision = 'allow' | 'reason' | 'ask' | 'deny';
export type CallerClass = 'agent' | 'unattended' | 'human';
export const CLASSES: readonly CallerClass[] = ['agent', 'unattended', 'human'];
const DECISIONS: readonly Decision[] = ['allow', 'reason', 'ask', 'deny'];
/** `ask` sits between reason and deny: ask -> reason is a loosening, deny -> ask too. */
export const STRICTNESS: Record<Decision, number> = { allow: 0, reason: 1, ask: 2, deny: 3 };

export interface Rule {
  pattern: string;
  decision: Decision;
}

export interface Policy {
  rules: Record<CallerClass, Rule[]>;
  /** Which classes config.yaml set; the others keep the defaults. */
  configured: CallerClass[];
  /** Set when config.yaml's `policy:` cannot be read: every plaintext read is refused. */
  error?: string;
}

export interface Verdict {
  decision: Decision;
  /** `agent prod*=reason`: the class, the pattern that matched and its decision, for the record. */
  rule: string;
}

/** What lsm does without a `policy:` section. A class written in config.yaml replaces its line here. */
export const DEFAULT_RULES: Readonly<Record<CallerClass, readonly Rule[]>> = {
  agent: [{ pattern: 'prod*', decision: 'reason' }, { pattern: '*', decision: 'allow' }],
  unattended: [{ pattern: '*', decision: 'allow' }],
  human: [{ pattern: '*', decision: 'allow' }],
};

/**
 * A protected home has someone trustworthy to ask (the keeper, and the user's
 * passphrase at a pinentry): agents and unattended callers ask for prod* plaintext there.
 */
export const PROTECTED_DEFAULT_RULES: Readonly<Record<CallerClass, readonly Rule[]>> = {
  agent: [{ pattern: 'prod*', decision: 'ask' }, { pattern: '*', decision: 'allow' }],
  unattended: [{ pattern: 'prod*', decision: 'ask' }, { pattern: '*', decision: 'allow' }],
  human: [{ pattern: '*', decision: 'allow' }],
};

const PATTERN = /^[A-Za-z0-9_*?-]{1,64}(\/[A-Za-z0-9_*?-]{1,64})?$/;

function defaults(guarded = false): Record<CallerClass, Rule[]> {
  const d = guarded ? PROTECTED_DEFAULT_RULES : DEFAULT_RULES;
  return { agent: [...d.agent], unattended: [...d.unattended], human: [...d.human] };
}

/** Why `ask` cannot be kept in a home without a keeper: said when such a policy is loaded. */
export const ASK_UNPROTECTED = "'ask' needs a protected home: without a keeper the answer would be given inside the asking process, which the agent can answer itself ('lsm key protect', then 'lsm unlock')";

function decisionOf(v: Plain | undefined, where: string): Decision {
  const d = typeof v === 'string' ? v.trim().toLowerCase() : undefined;
  if (d && (DECISIONS as readonly string[]).includes(d)) return d as Decision;
  throw new Error(`${where} must be allow, reason, ask or deny, not ${JSON.stringify(v ?? null)}`);
}

/**
 * Reads `policy:` from a parsed config.yaml. Never throws: a policy it cannot read
 * comes back with `error` set, and every plaintext read is then refused (fail closed),
 * since guessing what a broken policy meant could only ever loosen it.
 */
export function parsePolicy(tree: { [k: string]: Plain }, path: string, guarded = false): Policy {
  const raw = setting(tree, 'policy');
  const policy: Policy = { rules: defaults(guarded), configured: [] };
  if (raw === undefined || raw === null) return policy;
  try {
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error("'policy' must be a mapping of agent, unattended and human to rules");
    for (const [cls, body] of Object.entries(raw)) {
      if (!(CLASSES as readonly string[]).includes(cls)) {
        throw new Error(`unknown caller class policy.${cls} (use agent, unattended or human)`);
      }
      const where = `policy.${cls}`;
      let rules: Rule[];
      if (body === null) rules = [];
      // A list read as a mapping would give rules for envs named "0", "1"...: fail closed instead.
      else if (Array.isArray(body)) throw new Error(`${where} must be a mapping of env patterns to allow, reason or deny (or one of them), not a list`);
      else if (typeof body !== 'object') rules = [{ pattern: '*', decision: decisionOf(body, where) }];
      else {
        rules = Object.entries(body).map(([pattern, d]) => {
          if (!PATTERN.test(pattern)) {
            throw new Error(`${where}: ${JSON.stringify(pattern)} is not an env pattern (env names, or app/env, with * and ?)`);
          }
          return { pattern, decision: decisionOf(d, `${where}.${JSON.stringify(pattern)}`) };
        });
      }
      if (!guarded && rules.some((r) => r.decision === 'ask')) throw new Error(`${where}: ${ASK_UNPROTECTED}`);
      policy.rules[cls as CallerClass] = rules;
      policy.configured.push(cls as CallerClass);
    }
  } catch (err) {
    return { rules: defaults(guarded), configured: [], error: `${path}: ${(err as Error).message}` };
  }
  return policy;
}

/**
 * The policy of a home, at the cost of one small file read: a config.yaml that never
 * says "policy" is not parsed at all, so `lsm get` pays nothing for the feature it
 * does not use. An unreadable config.yaml fails closed too.
 */
export async function loadPolicy(home: Home, opts: { guarded?: boolean } = {}): Promise<Policy> {
  // In the keeper: the policy accepted at unlock (or a tightening since), not the file as it is now.
  const held = custody();
  if (held) return held.policy();
  // key.age: the keeper decides, and `ask` has someone to ask.
  const guarded = opts.guarded ?? existsSync(home.keyAge);
  let text: string;
  try {
    text = readRegular(home.config).toString('utf8'); // a FIFO would block every read
  } catch (err) {
    if (errno(err) === 'ENOENT') return { rules: defaults(guarded), configured: [] };
    return { rules: defaults(guarded), configured: [], error: `cannot read ${home.config}: ${errno(err) ?? 'error'}` };
  }
  return policyOfText(text, home.config, guarded);
}

/** The policy config.yaml's text sets (the keeper compares the one in force with a new one). */
export async function policyOfText(text: string, path: string, guarded: boolean): Promise<Policy> {
  // A YAML escape ("pol\u0069cy") could spell the key without the word: only a file with
  // neither is skipped unparsed.
  if (!text.includes('policy') && !text.includes('\\')) return { rules: defaults(guarded), configured: [] };
  let tree;
  try {
    tree = await parseConfigText(text, path);
  } catch (err) {
    return { rules: defaults(guarded), configured: [], error: err instanceof LsmError ? err.message : `${path}: malformed YAML` };
  }
  return parsePolicy(tree, path, guarded);
}

function globRe(pattern: string): RegExp {
  const body = pattern.replace(/[*?]|[^*?]+/g, (part) => (part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\-]/g, '\\$&')));
  // Regardless of case: on a case-insensitive file system (macOS by default) web.PROD.age
  // is web.prod.age, and `get web PROD` must not slip past a "prod*" rule.
  return new RegExp(`^${body}$`, 'i');
}

function literalCount(pattern: string): number {
  return pattern.replace(/[*?]/g, '').length;
}

/**
 * The rule for one store. The most specific matching pattern wins, whatever the order
 * in the file: a pattern without wildcards beats a glob, then the pattern with more
 * literal characters (`app/env` patterns count the app), and on a tie the stricter
 * decision. A store no pattern of its class matches is allowed.
 */
export function evaluate(policy: Policy, cls: CallerClass, app: string, env: string): Verdict {
  if (policy.error) return { decision: 'deny', rule: 'invalid-policy' };
  let best: Rule | undefined;
  let bestKey: [number, number, number] = [-1, -1, -1];
  for (const r of policy.rules[cls]) {
    const subject = r.pattern.includes('/') ? `${app}/${env}` : env;
    if (!globRe(r.pattern).test(subject)) continue;
    const key: [number, number, number] = [/[*?]/.test(r.pattern) ? 0 : 1, literalCount(r.pattern), STRICTNESS[r.decision]];
    if (key[0] > bestKey[0] || (key[0] === bestKey[0] && (key[1] > bestKey[1] || (key[1] === bestKey[1] && key[2] > bestKey[2])))) {
      best = r;
      bestKey = key;
    }
  }
  if (!best) return { decision: 'allow', rule: `${cls} (no rule)` };
  const origin = policy.configured.includes(cls) ? '' : 'default ';
  return { decision: best.decision, rule: `${origin}${cls} ${best.pattern}=${best.decision}` };
}

/** Who asks, as the audit log sees it: a named agent (marker or ancestry), else a terminal or nobody. */
export function callerClass(actor: { agent_marker: string; tty: string }): CallerClass {
  if (actor.agent_marker) return 'agent';
  return actor.tty === '' || actor.tty === '/dev/null' ? 'unattended' : 'human';
}

export const REASON_MAX = 200;

/**
 * The caller's reason as it goes into the event: user text, not a secret, but it must
 * not drive a terminal that shows the log nor grow a row without bound.
 */
export function cleanReason(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const flat = text.replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ').replace(/\s+/g, ' ').trim();
  if (flat === '') return undefined;
  const cps = Array.from(flat);
  return cps.length > REASON_MAX ? `${cps.slice(0, REASON_MAX - 1).join('')}…` : flat;
}

export type EgressCommand = 'get' | 'dump' | 'edit' | 'exec' | 'gh_push';

/** What a refused caller can do instead, per command. */
const USE_EXEC = "ask the user to run it, use 'lsm exec -- <cmd>' (the secrets reach the command, not you)";
const INSTEAD: Record<EgressCommand, string> = {
  get: USE_EXEC,
  dump: USE_EXEC,
  edit: USE_EXEC,
  exec: 'leave the output masked (drop --no-mask), ask the user to run it',
  gh_push: 'ask the user to run it',
};

/** What an agent refused an approval can do instead, after asking the user to run it. */
const ASK_INSTEAD: Record<EgressCommand, string> = {
  get: ", or use 'lsm exec -- <cmd>' (the secrets reach the command, not you)",
  dump: ", or use 'lsm exec -- <cmd>' (the secrets reach the command, not you)",
  edit: '',
  exec: ', or leave the output masked (drop --no-mask)',
  gh_push: '',
};

/** The refusal: names no value, says what to do instead. */
export function refusal(verdict: Verdict, cls: CallerClass, command: EgressCommand, env: string, policyError?: string): LsmError {
  const who = cls === 'agent' ? 'an agent' : cls === 'unattended' ? 'an unattended caller (no terminal)' : 'a terminal user';
  const what = command === 'gh_push' ? `pushing ${env} secrets to GitHub by ${who}` : `plaintext of ${env} secrets to ${who}`;
  const instead = INSTEAD[command];
  if (policyError) {
    return new LsmError('denied', `refused: the egress policy cannot be read, so no plaintext is given out: ${policyError}`, {
      exit: EXIT.denied,
      hint: `fix 'policy:' in config.yaml (see docs/policy.md); meanwhile ${instead}`,
    });
  }
  if (verdict.decision === 'reason') {
    return new LsmError('denied', `refused: ${what} needs a reason (policy: ${verdict.rule})`, {
      exit: EXIT.denied,
      hint: `${instead}, or pass --reason "why" (or LSM_REASON); the reason is recorded in the audit log`,
    });
  }
  return new LsmError('denied', `refused: ${what} is denied (policy: ${verdict.rule})`, {
    exit: EXIT.denied,
    hint: `${instead}; only the user can change 'policy:' in config.yaml`,
  });
}

export interface EgressRequest {
  command: EgressCommand;
  target: { app: string; env: string };
  /** The names being read, as the command's own event names them ({key} or {keys}). */
  fields: Record<string, unknown>;
  keys: string[];
  /** --reason; LSM_REASON is read when it is absent. */
  reason?: string;
  /** The caller, when the command captured it already. */
  actor?: { agent_marker: string; tty: string };
}

export interface Egress {
  caller: CallerClass;
  /** What the command's event adds: the caller's reason, and the rule when one asked for it. */
  fields: Record<string, unknown>;
  /** Canary keys among those read: record them with recordCanaryReads before revealing. */
  canaries: string[];
}

/**
 * Checks a plaintext read against the policy. A refusal is recorded (outcome `denied`,
 * with the rule and the caller class, and a `canary.read` for any canary asked for) and
 * thrown as LsmError('denied', exit 4); the message names no value.
 */
export async function enforceEgress(ctx: Context, req: EgressRequest): Promise<Egress> {
  const actor = req.actor ?? actorOf(ctx);
  const caller = callerClass(actor);
  const policy = await loadPolicy(ctx.home);
  const verdict = evaluate(policy, caller, req.target.app, req.target.env);
  const reason = cleanReason(req.reason ?? ctx.env.LSM_REASON);
  const names = canaryNames(ctx.home, req.target, (m) => ctx.stderr.write(m));
  const canaries = req.keys.filter((k) => names.has(k));
  const fields: Record<string, unknown> = {};
  if (reason !== undefined) fields.reason = reason;
  if (verdict.decision !== 'allow') fields.policy = verdict.rule;
  if (verdict.decision === 'deny' || (verdict.decision === 'reason' && reason === undefined)) {
    await record(ctx, { event: req.command, ...req.target, outcome: 'denied', fields: { ...req.fields, ...fields, caller } }, { failClosed: false });
    await recordCanaryReads(ctx, req.target, canaries, req.command, 'denied');
    throw refusal(verdict, caller, req.command, req.target.env, policy.error);
  }
  const held = custody();
  if (verdict.decision === 'ask') {
    // Only the keeper can ask (the user's passphrase at a pinentry it starts); it may put
    // the request aside here and run it again with the answer.
    const answer = held?.approver
      ? await held.approver.decide(ctx, { command: req.command, target: req.target, keys: req.keys, reason, caller, rule: verdict.rule })
      : { outcome: 'unavailable' as const, why: 'only a keeper can ask, and this home has none' };
    if (answer.outcome !== 'approved') {
      const approval = { approval: answer.outcome, ...(answer.code ? { approval_request: answer.code } : {}) };
      await record(ctx, { event: req.command, ...req.target, outcome: 'denied', fields: { ...req.fields, ...fields, ...approval, caller } }, { failClosed: false });
      await recordCanaryReads(ctx, req.target, canaries, req.command, 'denied');
      throw askRefusal(answer, verdict, caller, req.command, req.target.env);
    }
    Object.assign(fields, answer.fields);
  }
  if (caller === 'agent' && held?.approver) {
    held.approver.notify(ctx, { agent: actor.agent_marker, command: req.command, target: req.target, keys: req.keys, approval: fields.approval as string | undefined });
  }
  return { caller, fields, canaries };
}

/** An `ask` that did not end in an approval: exit 4, and the agent is told to hand the command to the user. */
export function askRefusal(
  answer: { outcome: 'denied' | 'timeout' | 'unavailable'; code?: string; channel?: string; why?: string },
  verdict: Verdict, cls: CallerClass, command: EgressCommand, env: string,
): LsmError {
  const who = cls === 'agent' ? 'an agent' : cls === 'unattended' ? 'an unattended caller (no terminal)' : 'a terminal user';
  const what = command === 'gh_push' ? `pushing ${env} secrets to GitHub by ${who}` : `plaintext of ${env} secrets to ${who}`;
  const req = answer.code ? ` (request ${answer.code}${answer.channel ? ` on ${answer.channel}` : ''})` : '';
  const hint = `ask the user to run the command themselves${ASK_INSTEAD[command]}; the request is in the audit log`;
  const why = answer.why ? `: ${answer.why}` : '';
  if (answer.outcome === 'unavailable') {
    return new LsmError('approval_unavailable', `refused: ${what} needs the user's approval (policy: ${verdict.rule}), and it cannot be asked${why}`, { exit: EXIT.denied, hint });
  }
  if (answer.outcome === 'timeout') {
    return new LsmError('approval_timeout', `refused: nobody approved ${what}${req} in time (policy: ${verdict.rule})`, { exit: EXIT.denied, hint });
  }
  return new LsmError('approval_denied', `refused: ${what} was not approved${req}${why} (policy: ${verdict.rule})`, { exit: EXIT.denied, hint });
}

export interface ExecGuard {
  /** Fields of the exec event: mask, mask_source, unmasked, public, and reason/policy when they apply. */
  fields: Record<string, unknown>;
  /** Canaries injected (asked for): record them as read before the child starts. */
  canaries: string[];
  /** The values to mask, when masking is on and at least one is long enough. */
  mask?: string[];
}

/**
 * What `exec` adds: canaries stay out of the child unless asked for (--with-canaries,
 * or named in --only), so honest work never touches them; the output is masked by
 * default for agents and unattended callers, shown as is to a person at a terminal;
 * and unmasked output is plaintext egress, so it goes through the policy. `secrets` is
 * changed in place.
 */
export async function guardExec(
  ctx: Context,
  target: { app: string; env: string },
  secrets: Map<string, string>,
  opts: { mask?: boolean; withCanaries?: boolean; only?: string[]; reason?: string; program: string },
): Promise<ExecGuard> {
  const names = canaryNames(ctx.home, target, (m) => ctx.stderr.write(m));
  for (const k of [...secrets.keys()]) if (names.has(k) && !opts.withCanaries && !opts.only?.includes(k)) secrets.delete(k);
  const canaries = [...secrets.keys()].filter((k) => names.has(k));
  const actor = actorOf(ctx);
  const caller = callerClass(actor);
  const mask = opts.mask ?? caller !== 'human';
  const fields: Record<string, unknown> = { mask, mask_source: opts.mask === undefined ? 'default' : 'flag' };
  if (!mask) {
    const keys = [...secrets.keys()];
    const egress = await enforceEgress(ctx, { command: 'exec', target, fields: { program: opts.program, keys, ...fields }, keys, reason: opts.reason, actor });
    return { fields: { ...fields, ...egress.fields }, canaries };
  }
  const [{ MIN_MASK_BYTES }, { loadPublic, isPublic }] = await Promise.all([import('./mask-stream.js'), import('./mask-public.js')]);
  // Said in the record: the child has the values in its environment, so masking keeps them
  // out of output by accident, not out of the hands of a child that means to show them.
  fields.mask_guards = 'accidents';
  const unmasked = [...secrets].filter(([, v]) => Buffer.byteLength(v) < MIN_MASK_BYTES).map(([k]) => k);
  if (unmasked.length > 0) fields.unmasked = unmasked;
  // Keys the user marked not secret in config.yaml: shown, and named in the event.
  const pub = await loadPublic(ctx.home);
  if (pub.error) ctx.stderr.write(`lsm: warning: ${pub.error}\n`);
  const shownKeys = [...secrets.keys()].filter((k) => isPublic(pub, target.app, target.env, k));
  if (shownKeys.length > 0) fields.public = shownKeys;
  const reason = cleanReason(opts.reason ?? ctx.env.LSM_REASON);
  if (reason !== undefined) fields.reason = reason;
  const values = [...secrets].filter(([k]) => !unmasked.includes(k) && !shownKeys.includes(k)).map(([, v]) => v);
  return { fields, canaries, mask: values.length > 0 ? values : undefined };
}
