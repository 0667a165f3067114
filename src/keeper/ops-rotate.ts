import { readFileSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { LsmError, errno, ioError } from '../errors.js';
import { fsyncDir, writeFileAtomic } from '../atomic.js';
import { withLockAsync } from '../lock.js';
import { holdCustody } from '../custody.js';
import { record } from '../audit/record.js';
import { keyText, parseKeyText, type Identity } from '../identity.js';
import { decryptWithPassphrase, encryptWithPassphrase } from '../age/passphrase.js';
import { encrypt, generateIdentity } from '../age/age.js';
import { rotationJournal } from '../store.js';
import { journalFields, rotate, type RotationCustody } from '../rotate.js';
import { readInForce } from './config-watch.js';
import { compareHead, headAfter, loadState, saveState, statePath, FOREIGN_EVENT, REWOUND_EVENT, type KeeperState } from './state.js';
import { stopRunningKeeper } from './stop-running.js';
import type { Context } from '../context.js';
import type { Home } from '../home.js';

/**
 * Key rotation of a protected home, done by a freshly started keeper (`lsm __keeper
 * --rotate`), the one process that gets the passphrase: it stops the running keeper,
 * rotates with the journal rotate.ts uses (every store re-encrypted, safe to kill at
 * any point), and then serves as the keeper with the new key. Nothing here is ever in
 * the clear on disk: key.age is the new identity under the same passphrase, the
 * journal holds the new key and the backup the old one, each passphrase-encrypted.
 */
export interface RotateReport {
  stores: number;
  resumed: boolean;
  started: string;
  recipient: string;
  backup: string;
}

/** The state checkpoint, encrypted to both keys while the rotation runs: a keeper unlocked by either reads it. */
function saveStateBoth(home: Home, state: KeeperState, keys: string[]): void {
  writeFileAtomic(statePath(home), encrypt(Buffer.from(JSON.stringify(state), 'utf8'), keys), 0o600);
}

export async function rotateProtected(home: Home, current: Identity, passphrase: string, ctxOf: () => Context): Promise<{ next: Identity; report: RotateReport }> {
  await stopRunningKeeper(home, 'key rotation', 10_000);
  const state = await loadState(home, current);
  const inForce = await readInForce(home);
  // Held as in a serving keeper, so the rows of the rotation are written, sealed and
  // watched as the keeper's own; there is no socket yet.
  holdCustody({
    identity: current,
    policy: async () => inForce.policy,
    configText: () => inForce.text,
    failOpen: () => inForce.failOpen,
    sealKey: { read: () => state.seal, write: (k) => { state.seal = k; } },
    beforeAppend: (path, fd, size) => {
      if (path !== home.audit) return [];
      const c = compareHead(fd, size, state.head);
      const rows: Array<{ event: string; fields: Record<string, unknown> }> = [];
      if (c.rewound) rows.push({ event: REWOUND_EVENT, fields: c.rewound });
      if (c.foreign) rows.push({ event: FOREIGN_EVENT, fields: c.foreign });
      return rows;
    },
    configNote: () => undefined,
    appended: (path, seq, line, size) => {
      if (path === home.audit) state.head = headAfter(size, seq, line);
    },
  });
  try {
    const ctx = ctxOf();
    const custody = protectedCustody(home, passphrase, current, ctx.now);
    const result = await withLockAsync(`${rotationJournal(home)}.lock`, async () => {
      const pending = await custody.readJournal();
      let both = pending ? [pending.old.recipient, pending.next.recipient] : [];
      if (pending) saveStateBoth(home, state, both);
      return rotate(
        home,
        custody,
        async () => {
          const started = ctx.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
          return { old: current, next: generateIdentity(), id: randomBytes(8).toString('hex'), started };
        },
        async (r, stores) => {
          await record(ctx, { event: 'key.rotate', fields: { rotation: r.id, stores, backup: r.backup, recipient: r.next.recipient } }, { failClosed: true });
          // Before the journal and any store change: a keeper killed from here on restarts with either key.
          both = [r.old.recipient, r.next.recipient];
          saveStateBoth(home, state, both);
        },
        // Checkpointed after each store: a rotation killed midway leaves the next keeper
        // at most one row it did not see written.
        () => saveStateBoth(home, state, both),
      );
    }, { timeoutMs: 120_000 });
    const r = result.rotation;
    await saveState(home, r.next, state);
    return { next: r.next, report: { stores: result.stores, resumed: result.resumed, started: r.started, recipient: r.next.recipient, backup: r.backup } };
  } finally {
    holdCustody(undefined);
  }
}

const B64 = /^# encrypted key: ([A-Za-z0-9+/=]+)$/m;

/**
 * Key custody of a protected home (src/rotate.ts): key.age, the journal key.rotating,
 * and key.txt.<time>.bak.age (the name `lsm key protect` gives an encrypted backup),
 * every key in them encrypted with the home's passphrase. The journal's comment lines
 * name the public keys, which writers add to a store's recipients meanwhile (store.ts).
 */
export function protectedCustody(home: Home, passphrase: string, current: Identity, now: () => Date): RotationCustody {
  const journal = rotationJournal(home);
  let installed = current;
  const seal = (text: string): Buffer => Buffer.from(encryptWithPassphrase(Buffer.from(text, 'utf8'), passphrase));
  const open = async (bytes: Uint8Array, path: string): Promise<Identity> => {
    const plain = decryptWithPassphrase(bytes, passphrase);
    try {
      return await parseKeyText(Buffer.from(plain).toString('utf8'), path);
    } finally {
      plain.fill(0);
    }
  };
  /** Sealed, then opened again before it is written: a file that would not open with the passphrase would lose the key. */
  const sealChecked = (id: Identity, text: string, what: string): Buffer => {
    const bytes = seal(text);
    const back = decryptWithPassphrase(bytes, passphrase);
    try {
      if (!Buffer.from(back).toString('utf8').includes(id.identity)) throw new LsmError('internal', `${what} did not decrypt to the key it was written from; nothing was changed`);
    } finally {
      back.fill(0);
    }
    return bytes;
  };
  return {
    async readJournal() {
      const j = journalFields(journal);
      if (!j) return undefined;
      const { id, started, backup } = j;
      const sealed = B64.exec(j.text)?.[1];
      if (!id || !started || !backup || basename(backup) !== backup || !sealed) {
        throw new LsmError('key_invalid', `${journal} is not a key rotation journal of a protected home`, {
          hint: 'it may hold the new key of an interrupted rotation: keep a copy before anything else',
        });
      }
      const next = await open(Buffer.from(sealed, 'base64'), journal);
      // The old key is the backup's; key.age holds it too until the switch, and after it
      // every store is open to the new one. A backup removed by hand is not needed.
      let old: Identity;
      try {
        old = await open(readFileSync(join(home.dir, backup)), backup);
      } catch {
        old = installed.recipient === next.recipient ? next : installed;
      }
      return { id, started, old, next, backup };
    },
    writeJournal(r) {
      writeFileAtomic(journal, [
        "# lsm key rotation in progress: 'lsm key rotate' finishes it (with the passphrase)",
        `# rotation: ${r.id}`,
        `# started: ${r.started}`,
        `# backup: ${r.backup}`,
        `# previous public key: ${r.old.recipient}`,
        `# public key: ${r.next.recipient}`,
        `# encrypted key: ${sealChecked(r.next, keyText(r.next, now()), journal).toString('base64')}`,
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
      const name = `key.txt.${started.replace(/[:.]/g, '-')}.bak.age`;
      const text = `# previous lsm key, replaced by a rotation started ${started}\n# public key: ${old.recipient}\n${old.identity}\n`;
      writeFileAtomic(join(home.dir, name), sealChecked(old, text, name), 0o600);
      return name;
    },
    installed: async () => installed,
    install(next) {
      writeFileAtomic(home.keyAge, sealChecked(next, keyText(next, now()), home.keyAge), 0o600);
      installed = next;
    },
  };
}
