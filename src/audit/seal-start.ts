import { randomBytes } from 'node:crypto';
import { LsmError } from '../errors.js';
import { appendEvent } from './log.js';
import { SEAL_INIT_EVENT, formatVerificationKey, keyIdOf, rootFromSeed, type KeyFile } from './seal.js';
import type { Actor } from './event.js';

export interface SealStart {
  verificationKey: string;
  keyId: string;
  initSeq: number;
}

/**
 * Starts sealing with a new root key: the init row names only the key's id, and the
 * verification key is returned once, never recorded. Run by `lsm audit seal init` in an
 * unprotected home and by the keeper in a protected one, where the key stays in memory.
 */
export function startSealing(
  path: string,
  current: KeyFile | 'garbled' | undefined,
  opts: { force: boolean; keyPath: string; now: () => Date; actor: Actor; fields?: Record<string, unknown> },
): SealStart {
  if (current && !opts.force) {
    const what = current === 'garbled' ? `${opts.keyPath} exists but is not a seal key file` : `sealing is already on (key ${current.keyId}, next seq ${current.nextSeq})`;
    throw new LsmError('exists', what, { hint: "'lsm audit seal init --force' starts a new key; the old verification key still checks the rows up to it" });
  }
  const seed = randomBytes(32);
  const root = rootFromSeed(seed);
  seed.fill(0);
  const keyId = keyIdOf(root);
  const fields: Record<string, unknown> = { key_id: keyId, ...opts.fields };
  if (current && current !== 'garbled') fields.previous_key_id = current.keyId;
  const row = appendEvent(path, { event: SEAL_INIT_EVENT, fields }, { now: opts.now, actor: opts.actor, rekey: { root } });
  return { verificationKey: formatVerificationKey(row.seq, root), keyId, initSeq: row.seq };
}
