import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LsmError, errno, ioError } from './errors.js';
import { fsyncDir, running, writeFileAtomic } from './atomic.js';
import { listStores, reencryptStore, rotationJournal } from './store.js';
import { loadIdentity, writeIdentity, type Identity } from './identity.js';
import type { Home } from './home.js';

/**
 * Key rotation: every store re-encrypted from the old identity to a new one, safe to
 * kill at any point. The pivot is the switch of the home's key; around it two passes,
 * each store under its own lock:
 *   1. each store is encrypted to both keys, while the home's key is still the old one;
 *   2. the new key is installed (one atomic replace);
 *   3. each store is encrypted to the new key only, and the journal is removed.
 * Whenever a kill falls, each store is readable by the old key, the new one or both,
 * and both are kept: the old one in its backup, the new one in the journal (until the
 * end) or as the home's key. The journal says a rotation is under way; the next run
 * finishes it instead of starting another. Writers that save a store meanwhile add the
 * journal's keys to their recipients (store.ts), so a store written between the passes
 * stays readable too. Readers need nothing: a store is always open to the home's key.
 *
 * The custody of the keys (where the new one is installed, where the journal and the
 * backup live) is the caller's: an unprotected home keeps them as files beside key.txt
 * (`fileCustody`); a home whose key a keeper protects supplies its own.
 */
export interface Rotation {
  /** Names the rotation in its one audit event. */
  id: string;
  started: string;
  old: Identity;
  next: Identity;
  /** Where the old identity is kept (a file name in the home for file custody). */
  backup: string;
}

export interface RotationCustody {
  /** The rotation under way, if a journal says one is. */
  readJournal(): Promise<Rotation | undefined>;
  writeJournal(r: Rotation): void;
  removeJournal(): void;
  /** Keeps the old identity, before any store changes. Returns where. */
  backup(old: Identity, started: string): string;
  /** The identity the home uses now. */
  installed(): Promise<Identity>;
  /** Makes `next` the home's identity, atomically. */
  install(next: Identity): void;
}

export interface RotateResult {
  stores: number;
  /** The run finished a rotation an earlier run started. */
  resumed: boolean;
  rotation: Rotation;
}

/**
 * Runs the passes of `r` to the end. Idempotent: a run killed anywhere is finished by
 * calling it again with the journal's rotation.
 */
export async function finishRotation(home: Home, r: Rotation, custody: RotationCustody, progress?: (rewritten: number) => void): Promise<number> {
  const both = [r.old.recipient, r.next.recipient];
  const keys = [r.next, r.old];
  let rewritten = 0;
  if ((await custody.installed()).recipient !== r.next.recipient) {
    for (const t of listStores(home)) {
      await reencryptStore(home, t, keys, both);
      progress?.(++rewritten);
    }
    custody.install(r.next);
  }
  // Stores made during the first pass are in this listing (their writers added both keys).
  const after = listStores(home);
  for (const t of after) {
    await reencryptStore(home, t, keys, [r.next.recipient]);
    progress?.(++rewritten);
  }
  custody.removeJournal();
  return after.length;
}

/**
 * Starts a rotation from `old` to `next`, or finishes the one a journal names. `record`
 * writes the rotation's one event: it runs after the backup and before the journal and
 * any store change, and may refuse by throwing (a change that cannot be recorded does
 * not happen). A run killed after it and before the journal leaves an event for a
 * rotation that did not happen, never a rotation without an event.
 */
export async function rotate(
  home: Home,
  custody: RotationCustody,
  start: () => Promise<{ old: Identity; next: Identity; id: string; started: string }>,
  record: (r: Rotation, stores: number) => Promise<void>,
  /** Called after each store rewritten, with the count so far (both passes). */
  progress?: (rewritten: number) => void,
): Promise<RotateResult> {
  const pending = await custody.readJournal();
  if (pending) return { stores: await finishRotation(home, pending, custody, progress), resumed: true, rotation: pending };
  const s = await start();
  const backup = custody.backup(s.old, s.started);
  const r: Rotation = { ...s, backup };
  await record(r, listStores(home).length);
  custody.writeJournal(r);
  return { stores: await finishRotation(home, r, custody, progress), resumed: false, rotation: r };
}

/** A rotation journal's text and the `# name: value` lines both custodies write; undefined when there is none. */
export function journalFields(journal: string): { text: string; id?: string; started?: string; backup?: string } | undefined {
  let text: string;
  try {
    text = readFileSync(journal, 'utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw ioError('read', journal, err);
  }
  const field = (name: string) => new RegExp(`^# ${name}: (.+)$`, 'm').exec(text)?.[1];
  return { text, id: field('rotation'), started: field('started'), backup: field('backup') };
}

/** Key custody of an unprotected home: key.txt, key.rotating and key.txt.<time>.bak. */
export function fileCustody(home: Home, now: () => Date): RotationCustody {
  const journal = rotationJournal(home);
  return {
    async readJournal() {
      const j = journalFields(journal);
      if (!j) return undefined;
      const { id, started, backup } = j;
      if (!id || !started || !backup || basename(backup) !== backup) {
        throw new LsmError('key_invalid', `${journal} is not a key rotation journal lsm wrote`, {
          hint: `it holds the new key of an interrupted rotation: keep a copy, then compare it with ${home.key}`,
        });
      }
      const next = await loadIdentity(home, journal);
      // The old key is the backup's; key.txt holds it too until the switch, and after it
      // every store is open to the new one. A backup removed by hand is not needed.
      const old = await loadIdentity(home, join(home.dir, backup)).catch(async () => {
        const installed = await loadIdentity(home);
        return installed.recipient === next.recipient ? next : installed;
      });
      return { id, started, old, next, backup };
    },
    writeJournal(r) {
      writeFileAtomic(journal, [
        "# lsm key rotation in progress: 'lsm key rotate' finishes it",
        `# rotation: ${r.id}`,
        `# started: ${r.started}`,
        `# backup: ${r.backup}`,
        `# previous public key: ${r.old.recipient}`,
        `# public key: ${r.next.recipient}`,
        r.next.identity,
        '',
      ].join('\n'), 0o600);
    },
    removeJournal() {
      try {
        unlinkSync(journal);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw ioError('remove', journal, err);
      }
      fsyncDir(home.dir);
    },
    backup(old, started) {
      sweepBackupTemps(home.dir);
      const name = `key.txt.${started.replace(/[:.]/g, '-')}.bak`;
      writeFileAtomic(join(home.dir, name), `# previous lsm key, replaced by a rotation started ${started}\n# public key: ${old.recipient}\n${old.identity}\n`, 0o600);
      return name;
    },
    installed: () => loadIdentity(home),
    install(next) {
      writeIdentity(home, next, now());
    },
  };
}

// Each backup has its own name, so writeFileAtomic's sweep of a file's own temp files
// never meets the temp file of a backup whose rotation was killed: removed here, when
// its writer no longer runs (it holds the old key).
function sweepBackupTemps(dir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch { /* nothing to sweep */ }
  for (const n of names) {
    const m = /^\.key\.txt\.[0-9TZ-]+\.bak\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(n);
    if (!m || Number(m[1]) === process.pid || running(Number(m[1]))) continue;
    try { unlinkSync(join(dir, n)); } catch { /* another run swept it */ }
  }
}
