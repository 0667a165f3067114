import { actorOf, agentOf, hasTTY } from './detectors.js';
import type { AuditRow } from './event.js';

/**
 * What an event did with secrets ("how") and who it was ("actor identity"): the two
 * questions every reader answers the same way, so `report`, `suspicious`, `stats` and
 * what is shipped over OTLP cannot disagree about them.
 */

/**
 * - plaintext: values reached the caller (get, dump, edit open, exec with output unmasked, gh push)
 * - masked: values reached a command whose output was masked (exec --mask)
 * - denied: refused by the egress policy (outcome denied), or an approval refused
 * - declined: the person at the prompt said no (dump over a file: reason not_confirmed)
 * - changed: a store was written (set, delete, import, edit save)
 * - names: key names only (list, apps, envs)
 * - failed: any other error
 * - other: everything else (init, link, canary bookkeeping ...)
 */
export type How = 'plaintext' | 'masked' | 'denied' | 'declined' | 'changed' | 'names' | 'failed' | 'other';
export const HOWS: readonly How[] = ['plaintext', 'masked', 'denied', 'declined', 'changed', 'names', 'failed', 'other'];

// gh_push hands the values to GitHub, where workflows read them: egress, as the policy treats it.
const REVEALING = new Set(['get', 'dump', 'gh_push']);
const CHANGING = new Set(['set', 'delete', 'import', 'clean']);
const NAMING = new Set(['list', 'apps', 'envs']);

/**
 * The approval outcome of an event, when one was asked for: `fields.approval` is where
 * an `ask` policy decision records it (`approved`, `denied`, `timeout`, ...). "" when none.
 */
export function approvalOf(row: AuditRow): string {
  const a = row.fields?.approval;
  return typeof a === 'string' ? a : '';
}

export function howOf(row: AuditRow): How {
  const f = row.fields ?? {};
  // Schema 1 rows have no outcome: the original only recorded what it did.
  const outcome = row.outcome ?? 'ok';
  const approval = approvalOf(row);
  if (outcome === 'denied' || (approval !== '' && approval !== 'approved')) return 'denied';
  if (outcome === 'error') return f.reason === 'not_confirmed' ? 'declined' : 'failed';
  const e = row.event;
  // canary.read rides along with the get or dump that revealed the decoy: not a second reveal.
  if (REVEALING.has(e)) return 'plaintext';
  if (e === 'edit') return f.stage === 'save' ? 'changed' : 'plaintext';
  if (e === 'exec') return f.mask === false ? 'plaintext' : 'masked';
  if (CHANGING.has(e)) return 'changed';
  if (NAMING.has(e)) return 'names';
  return 'other';
}

/** The env names a production environment (`prod`, `production`, `prod-eu`). */
export function isProd(env: string | undefined): boolean {
  return /^prod/i.test(env ?? '');
}

export type ActorKind = 'agent' | 'unattended' | 'human';

export interface ActorId {
  /** Stable grouping key: `agent:<name>:<session>` or `<kind>:<process>`. */
  key: string;
  kind: ActorKind;
  /** The agent's name, "" for none. */
  agent: string;
  /** The agent's session or thread id, "" when it set none. */
  session: string;
  /** The nearest non-shell process above lsm (`claude`, `node`, `cron`, `tmux: server`). */
  process: string;
}

/**
 * Who an event was, as one identity: an agent by its marker and session (so Codex under
 * a generic `node` or Cursor known only by its variable is not lumped with the user's own
 * `node`), else the nearest non-shell ancestor, split by whether a terminal was there.
 */
export function actorIdOf(row: AuditRow): ActorId {
  const agent = agentOf(row);
  const process = actorOf(row);
  if (agent) {
    const session = row.actor.agent_session ?? '';
    return { key: `agent:${agent}:${session}`, kind: 'agent', agent, session, process };
  }
  const kind: ActorKind = hasTTY(row) ? 'human' : 'unattended';
  return { key: `${kind}:${process}`, kind, agent: '', session: '', process };
}

/** A short name for an identity: `claude 4f2a9c1e`, `cron`, `tmux: server`. */
export function actorLabel(id: ActorId): string {
  if (id.kind === 'agent') return id.session ? `${id.agent} ${id.session.slice(0, 8)}` : id.agent;
  return id.process || '-';
}

/** The identity as it is shipped: agent name, else process name; sessions stay local (unbounded label values). */
export function shippedActor(row: AuditRow): string {
  return agentOf(row) || actorOf(row);
}
