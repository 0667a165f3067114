import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquire, withLock } from '../src/lock.js';
import { LsmError } from '../src/errors.js';
import { tempDir } from './helpers.js';
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
  assert.equal(existsSync(`${file}.lock`), false);
});

test('a lock left by a dead process is taken over at once', () => {
  const dir = tempDir();
  const lock = join(dir, 'x.lock');
  const dead = deadPid();
  writeFileSync(lock, `${dead} 12345\n`);
  const t0 = Date.now();
  withLock(lock, () => assert.ok(readFileSync(lock, 'utf8').startsWith(`${process.pid} `)));
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(existsSync(lock), false);
});

test('a lock held by a live process with another start time (pid reuse) is stale', () => {
  const dir = tempDir();
  const lock = join(dir, 'x.lock');
  writeFileSync(lock, `${process.pid} 1\n`);
  withLock(lock, () => {});
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
  writeFileSync(lock, `${dead} 12345\n`);
  const r = spawnSync(user.wrap[0], [...user.wrap.slice(1), process.execPath, '--import', 'tsx', 'test/fixtures/scripts/lock-once.ts', lock, '300'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.signal, null, 'the locker spun past its timeout');
  assert.equal(r.stdout, 'locked', r.stderr);
  assert.equal(readFileSync(lock, 'utf8'), `${dead} 12345\n`);
});
