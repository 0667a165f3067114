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
}

let held: Custody | undefined;

export function holdCustody(c: Custody | undefined): void {
  held = c;
}

export function custody(): Custody | undefined {
  return held;
}
