import { LsmError } from '../errors.js';
import { readRegular } from '../atomic.js';
import { withLock } from '../lock.js';
import { sha256Hex } from './chain.js';
import { lastRecorded } from './digests.js';
import { appendEvent, appendFailure } from './log.js';
import { STORE_UNRECORDED_EVENT } from './tamper-detectors.js';
import type { Home } from '../home.js';
import type { Target } from '../resolve.js';

/**
 * A store is an age file: anyone with the public key (it is in key.txt's comment and in
 * every store's recipient stanza) can write a new one that lsm decrypts and injects.
 * Every event that writes a store records the SHA-256 of the ciphertext it wrote, under
 * the store's lock; a read that finds another file records `store.unrecorded_change`
 * (local only: the digest index is not shipped), says so on stderr, and goes on (the
 * values may be the user's own, restored from a backup). The event carries the new
 * digest, so one swap is reported once.
 */
export function checkStore(home: Home, t: Target, sha256: string, opts: { locked?: boolean; warn?: (line: string) => void } = {}): void {
  const name = `store:${t.app}/${t.env}`;
  const first = lastRecorded(home.audit, name);
  // An unreadable log vouches for nothing and records nothing: the command's own record fails closed.
  if (first === null || first?.sha256 === sha256) return;
  const path = home.store(t.app, t.env);
  const judge = () => {
    // Under the store's lock the file is what the last write recorded, unless it was swapped.
    const rec = lastRecorded(home.audit, name);
    const now = opts.locked ? sha256 : current(path);
    if (rec === null || now === undefined || rec?.sha256 === now) return;
    const warn = opts.warn ?? ((line: string) => { process.stderr.write(line); });
    const was = rec ? `the log recorded ${rec.sha256.slice(0, 12)}… at seq ${rec.seq}` : 'the log records no write of it';
    let how = `recorded as ${STORE_UNRECORDED_EVENT}`;
    try {
      appendEvent(home.audit, {
        event: STORE_UNRECORDED_EVENT, app: t.app, env: t.env, localOnly: true,
        fields: { store_sha256: now, recorded_sha256: rec?.sha256 ?? null, recorded_seq: rec?.seq ?? null },
      }, { configPath: home.config });
    } catch (err) {
      how = `and it could not be recorded: ${appendFailure(err)}`;
    }
    warn(`lsm: warning: store ${t.app}/${t.env} (${path}) was changed outside lsm: its SHA-256 is ${now.slice(0, 12)}…, ${was}; ${how}\n`);
  };
  if (opts.locked) judge();
  else withLock(`${path}.lock`, judge);
}

function current(path: string): string | undefined {
  try {
    return sha256Hex(readRegular(path, { nofollow: true }));
  } catch (err) {
    if (err instanceof LsmError) throw err;
    return undefined;
  }
}
