import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquire, withLock } from '../src/lock.js';
import { LsmError } from '../src/errors.js';
import { present, tempDir } from './helpers.js';
import { unprivileged } from './fixtures/reliability.js';

/** A pid that certainly ran and exited. */
function deadPid(): string {
  return spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
}

test('16 processes incrementing under the lock lose no update', async () => {
  const dir = tempDir();
  const file = join(dir, 'counter');
  writeFileSync(file, '0');
  const procs = Array.from({ length: 16 }, () =>
    new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/scripts/lock-counter.ts', file, '25'], { stdio: 'inherit' });
      p.on('exit', resolve);
    }));
  assert.deepEqual(await Promise.all(procs), Array(16).fill(0));
  assert.equal(readFileSync(file, 'utf8'), String(16 * 25));
  assert.equal(present(`${file}.lock`), false);
});

test('the lock is a symbolic link naming its owner, and nothing else is created beside it', () => {
  const dir = tempDir();
  const lock = join(dir, 'x.lock');
  withLock(lock, () => {
    assert.match(readlinkSync(lock), new RegExp(`^${process.pid} \\d+$`));
    assert.deepEqual(readdirSync(dir), ['x.lock']);
  });
  assert.deepEqual(readdirSync(dir), []);
});

// Locks by an earlier lsm are files holding the same text; each kind must respect the other.
for (const kind of ['symlink', 'file (earlier lsm)'] as const) {
  const place = (lock: string, owner: string) => (kind === 'symlink' ? symlinkSync(owner, lock) : writeFileSync(lock, `${owner}\n`));

  test(`a ${kind} lock left by a dead process is taken over at once`, () => {
    const dir = tempDir();
    const lock = join(dir, 'x.lock');
    place(lock, `${deadPid()} 12345`);
    const t0 = Date.now();
    withLock(lock, () => assert.ok(readlinkSync(lock).startsWith(`${process.pid} `)));
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(present(lock), false);
  });

  test(`a ${kind} lock held by a live process with another start time (pid reuse) is stale`, () => {
    const dir = tempDir();
    const lock = join(dir, 'x.lock');
    place(lock, `${process.pid} 1`);
    withLock(lock, () => {});
    assert.equal(present(lock), false);
  });

  test(`a ${kind} lock of a live owner is waited on, not broken`, () => {
    const dir = tempDir();
    const lock = join(dir, 'x.lock');
    // The live owner is this process, holding the lock (a file of the same text put in its place).
    const mine = acquire(lock);
    const owner = readlinkSync(lock);
    unlinkSync(lock);
    place(lock, owner);
    assert.throws(() => acquire(lock, { timeoutMs: 50 }), (e: unknown) => e instanceof LsmError && e.code === 'locked');
    assert.equal(present(lock), true);
    mine.release();
  });

  test(`a ${kind} lock naming this process that it no longer holds (its removal failed) is taken over, not waited on`, () => {
    const dir = tempDir();
    const lock = join(dir, 'x.lock');
    const mine = acquire(lock);
    const owner = readlinkSync(lock);
    mine.release();
    // What an unlink that failed with EIO leaves: a long-lived keeper would wait for itself.
    place(lock, owner);
    const t0 = Date.now();
    withLock(lock, () => {}, { timeoutMs: 5000 });
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(present(lock), false);
  });
}

test('a FIFO planted as the lock is removed as stale, not read (a read would block for ever)', () => {
  const dir = tempDir();
  const lock = join(dir, 'x.lock');
  assert.equal(spawnSync('mkfifo', [lock]).status, 0);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/scripts/lock-once.ts', lock, '2000'], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r.signal, null, 'the locker hung on the FIFO');
  assert.equal(r.stdout, 'acquired', r.stderr);
  assert.equal(present(lock), false);
});

test('a lock planted as a link to a real file is judged by its target text and never followed', () => {
  const dir = tempDir();
  const lock = join(dir, 'x.lock');
  const mine = acquire(lock);
  const alive = `${readlinkSync(lock)}\n`; // this process, as a file lock would name it
  mine.release();
  const victim = join(dir, 'victim');
  writeFileSync(victim, alive);
  symlinkSync(victim, lock);
  withLock(lock, () => {}, { timeoutMs: 200 });
  assert.equal(readFileSync(victim, 'utf8'), alive);
  assert.equal(present(lock), false);
});

test('a live owner makes others wait, then time out with a clear error', () => {
  const dir = tempDir();
  const lock = join(dir, 'x.lock');
  const held = acquire(lock);
  // Our own pid and start time: alive, so not stale.
  assert.throws(() => acquire(lock, { timeoutMs: 100 }), (e: unknown) => e instanceof LsmError && e.code === 'locked' && /held by pid/.test(e.message));
  held.release();
  acquire(lock, { timeoutMs: 100 }).release();
});

test('a stale lock that cannot be removed is waited on until the timeout, not retried forever', (t) => {
  const user = unprivileged();
  if ('skip' in user) {
    t.skip(user.skip);
    return;
  }
  // A sticky, world-writable directory (like /tmp): another user may create files in it
  // but not remove root's, so the stale lock below can be judged stale but not broken.
  const dir = tempDir();
  chmodSync(dir, 0o1777);
  const lock = join(dir, 'x.lock');
  const dead = deadPid();
  symlinkSync(`${dead} 12345`, lock);
  const r = spawnSync(user.wrap[0], [...user.wrap.slice(1), process.execPath, '--import', 'tsx', 'test/fixtures/scripts/lock-once.ts', lock, '300'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.signal, null, 'the locker spun past its timeout');
  assert.equal(r.stdout, 'locked', r.stderr);
  assert.equal(readlinkSync(lock), `${dead} 12345`);
});
