import type { Identity } from './identity.js';
import type { Policy } from './policy.js';
import type { KeyFile } from './audit/seal.js';

/**
 * What the keeper holds in memory, and nothing else does: the unlocked identity, the
 * policy and failure mode it accepted at unlock, the seal key. Undefined in every
 * other lsm process. The domain code (store, policy, record, seal) asks here first, so
 * the same functions run in an unprotected lsm process and inside the keeper.
 */
export interface Custody {
  identity: Identity;
  /** The policy in force: config.yaml as it was at unlock, or a tightening of it since. */
  policy(): Promise<Policy>;
  /** config.yaml's text as accepted (at unlock, or a tightening since): what `mask: public:` is read from. */
  configText(): string;
  /** `audit: {on_failure: open}` as accepted at unlock. */
  failOpen(): boolean;
  /** The seal key, in memory; `write` checkpoints it encrypted to the identity. */
  sealKey: { read(): KeyFile | undefined; write(k: KeyFile, opts?: { replace?: boolean }): void };
  /** Under the log's lock, before an append: rows to write first (the log was rolled back, or written by another). */
  beforeAppend(path: string, fd: number, size: number): Array<{ event: string; fields: Record<string, unknown> }>;
  /** What the keeper adds to a `config.changed` row: whether the change is in force or waits for the passphrase. */
  configNote(): Record<string, unknown> | undefined;
  /** After an append is durable: the seq, the last line (no newline) and the file's new size. */
  appended(path: string, seq: number, lastLine: string, size: number): void;
  /** Who answers an `ask` decision (the keeper's approvals); absent, nobody can. */
  approver?: Approver;
}

/** A plaintext read the policy says to ask about. */
export interface AskRequest {
  command: string;
  target: { app: string; env: string };
  keys: string[];
  reason?: string;
  caller: string;
  /** The rule that said ask, for the record. */
  rule: string;
}

export type AskAnswer =
  | { outcome: 'approved'; fields: Record<string, unknown> }
  | { outcome: 'denied' | 'timeout' | 'unavailable'; code?: string; channel?: string; why?: string };

export interface Approver {
  /**
   * A grant or the answer to this very request: approved (with the fields the event
   * adds) or refused. When it must ask first it throws, and the keeper asks outside
   * its queue and runs the request again with the answer.
   */
  decide(ctx: import('./context.js').Context, req: AskRequest): Promise<AskAnswer>;
  /** An agent read plaintext: a desktop notification, never waited for. */
  notify(ctx: import('./context.js').Context, what: { agent: string; command: string; target: { app: string; env: string }; keys: string[]; approval?: string }): void;
}

let held: Custody | undefined;

export function holdCustody(c: Custody | undefined): void {
  held = c;
}

export function custody(): Custody | undefined {
  return held;
}
