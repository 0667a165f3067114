import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readRegular, writeFileAtomic } from '../atomic.js';
import { errno } from '../errors.js';
import { readAt } from '../audit/tailstate.js';
import { readKeyFile, sealKeyPath, type KeyFile } from '../audit/seal.js';
import { wipeFile } from '../envfiles.js';
import type { Home } from '../home.js';
import type { Identity } from '../identity.js';

/**
 * What the keeper knows of the log that the log itself cannot vouch for: where the
 * last row it wrote ends and what that row's bytes hash to, and the seal key. While
 * the keeper runs this lives in memory only, so a log copied away and put back after a
 * read is noticed at the next append (`audit.rewound`), whatever the file then says.
 * It is checkpointed to `keeper.state.age`, encrypted to the identity, so the seal key
 * never lies on disk in the clear and a restarted keeper picks the watch up again.
 */
export interface Head {
  size: number;
  seq: number;
  /** Offset and SHA-256 of the last line the keeper wrote. */
  lineStart: number;
  lineSha: string;
}

export interface KeeperState {
  head?: Head;
  seal?: KeyFile;
  /** `audit.rewound` rows not yet acknowledged by the user (lsm unlock --acknowledge). */
  unacknowledged: number[];
  /**
   * Set while a keeper serves, cleared when it locks: found set at the next unlock, the
   * keeper before it was killed (or the machine lost power), so what it wrote after its
   * last checkpoint is not vouched for, and a log cut back to that checkpoint would
   * otherwise look whole.
   */
  running?: { pid: number; since: string };
  /**
   * The config.yaml text in force when the keeper last held the key: a loosening found
   * at unlock, against it, is what this passphrase now puts in force, and is said so.
   */
  accepted?: string;
}

export const REWOUND_EVENT = 'audit.rewound';
export const FOREIGN_EVENT = 'audit.foreign_append';
export const ACK_EVENT = 'audit.acknowledged';
export const UNCLEAN_EVENT = 'keeper.unclean_exit';

export const statePath = (home: Home) => join(home.dir, 'keeper.state.age');
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

export async function loadState(home: Home, id: Identity): Promise<KeeperState> {
  const state: KeeperState = { unacknowledged: [] };
  let data: Buffer | undefined;
  try {
    data = readRegular(statePath(home), { nofollow: true });
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
  if (data) {
    const { decrypt } = await import('../age/age.js');
    const o = JSON.parse(Buffer.from(decrypt(data, [id.parsed ?? id.identity])).toString('utf8')) as Partial<KeeperState>;
    if (o.head) state.head = o.head;
    if (o.seal) state.seal = o.seal;
    if (Array.isArray(o.unacknowledged)) state.unacknowledged = o.unacknowledged.filter((n) => Number.isSafeInteger(n));
    if (typeof o.accepted === 'string') state.accepted = o.accepted;
    if (o.running && typeof o.running === 'object') state.running = { pid: Number(o.running.pid) || 0, since: String(o.running.since ?? '') };
  }
  // A seal key left in the clear (sealing started before the home was protected) moves into custody.
  const plain = sealKeyPath(home.audit);
  let kf: KeyFile | undefined;
  try {
    kf = readKeyFile(plain);
  } catch { /* garbled: the sealer records the loss */ }
  if (kf && (!state.seal || kf.nextSeq >= state.seal.nextSeq)) state.seal = kf;
  return state;
}

/** Removes the plaintext seal key once its successor is checkpointed. */
export function retirePlainSealKey(home: Home): void {
  try {
    wipeFile(sealKeyPath(home.audit));
  } catch { /* none */ }
}

export async function saveState(home: Home, id: Identity, state: KeeperState): Promise<void> {
  const { encrypt } = await import('../age/age.js');
  writeFileAtomic(statePath(home), encrypt(Buffer.from(JSON.stringify(state), 'utf8'), [id.recipient]), 0o600);
}

export function headAfter(size: number, seq: number, lastLine: string): Head {
  const bytes = Buffer.from(`${lastLine}\n`, 'utf8');
  return { size, seq, lineStart: size - bytes.length, lineSha: sha(bytes) };
}

/**
 * Whether the file still extends what the keeper last wrote. `rewound`: the keeper's
 * last line is gone or changed (a restored copy, a cut, an edit). `foreign`: rows were
 * added after it by something other than the keeper.
 */
export function compareHead(fd: number, size: number, head: Head | undefined): { rewound?: Record<string, unknown>; foreign?: Record<string, unknown> } {
  if (!head) return {};
  const len = head.size - head.lineStart;
  const same = size >= head.size && len > 0 && sha(readAt(fd, head.lineStart, len)) === head.lineSha;
  if (!same) return { rewound: { expected_seq: head.seq, expected_size: head.size, found_size: size } };
  if (size > head.size) return { foreign: { after_seq: head.seq, from_size: head.size, to_size: size } };
  return {};
}
