import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, lsm, lsmCommand, tempDir } from './helpers.ts';

/**
 * The keeper keeps what it would read again at every request (config.yaml, the digest
 * index, a store's plaintext, what it read of the caller's ancestors) only while the
 * file or the process is provably the same: these are the ways round that a same-user
 * process could try, each of which must be read anew.
 */
const PASS = 'memo test passphrase';
const homes: string[] = [];
after(() => {
  for (const home of homes) lsm(['keeper', 'stop'], { home });
});

function unlockedHome(): string {
  const home = join(tempDir('lsm-memo-'), 'home');
  homes.push(home);
  assert.equal(lsm(['init'], { home }).code, 0);
  assert.equal(lsm(['set', 'myapp', 'dev', 'API_KEY', 'value-one'], { home }).code, 0);
  // A comment whose text the edits below change without changing the file's size.
  writeFileSync(join(home, 'config.yaml'), `${readFileSync(join(home, 'config.yaml'), 'utf8')}# note: aaaa\n`, { mode: 0o600 });
  const p = lsm(['key', 'protect'], { home, input: `${PASS}\n${PASS}\n` });
  assert.equal(p.code, 0, p.stderr);
  const u = lsm(['unlock'], { home, input: `${PASS}\n` });
  assert.equal(u.code, 0, u.stderr);
  return home;
}

function rows(home: string): Array<Record<string, any>> {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** Past the memo's racy window: what is read now is kept, and served while the stat stays. */
const settle = () => new Promise((r) => setTimeout(r, 1100));

/** `file` rewritten in place with `text`, then given back the timestamps of `ref` (to the nanosecond): only ctime tells. */
function rewriteKeepingTimes(file: string, data: string | Uint8Array, ref: string): void {
  const before = statSync(file, { bigint: true });
  writeFileSync(file, data);
  const t = spawnSync('touch', ['-r', ref, file]);
  assert.equal(t.status, 0, String(t.stderr));
  const now = statSync(file, { bigint: true });
  assert.equal(now.size, before.size);
  assert.equal(now.ino, before.ino);
  assert.equal(now.mtimeNs, statSync(ref, { bigint: true }).mtimeNs);
}

function timesOf(file: string, dir: string): string {
  const ref = join(dir, `ref-${Math.random().toString(16).slice(2)}`);
  writeFileSync(ref, '');
  assert.equal(spawnSync('touch', ['-r', file, ref]).status, 0);
  return ref;
}

const get = (home: string) => lsm(['get', 'myapp', 'dev', 'API_KEY'], { home });
const sha256 = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');

test('config.yaml edited twice within a second, same size, mtime put back: the keeper records each change', async () => {
  const home = unlockedHome();
  const config = join(home, 'config.yaml');
  await settle();
  assert.equal(get(home).code, 0);
  assert.equal(get(home).code, 0);
  const ref = timesOf(config, join(home, '..'));
  const original = readFileSync(config, 'utf8');
  const b = original.replace('# note: aaaa', '# note: bbbb');
  const c = original.replace('# note: aaaa', '# note: cccc');
  // The comment added before protect is a change already recorded: counted from here.
  const before = rows(home).length;
  const changes = () => rows(home).slice(before).filter((r) => r.event === 'config.changed');
  const told = () => rows(home).slice(before).filter((r) => r.event === 'keeper.config');
  // The first edit, read at once (its ctime is fresh)...
  rewriteKeepingTimes(config, b, ref);
  assert.equal(get(home).code, 0);
  assert.equal(changes().length, 1);
  assert.equal(changes()[0].fields.config_sha256, sha256(b));
  // ...the second within the same second, read once its ctime is no longer fresh: only ctime differs from a stat of the first.
  rewriteKeepingTimes(config, c, ref);
  await settle();
  const r = get(home);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(changes().length, 2, 'the second edit was not seen');
  assert.equal(changes()[1].fields.config_sha256, sha256(c));
  assert.equal(told().length, 2);
  assert.equal(lsm(['audit', 'verify'], { home }).code, 0);
});

test('a store rewritten behind the keeper (same size, mtime put back) is read anew', async () => {
  const home = unlockedHome();
  const store = join(home, 'myapp.dev.age');
  const one = readFileSync(store);
  assert.equal(lsm(['set', 'myapp', 'dev', 'API_KEY', 'value-two'], { home }).code, 0);
  const two = readFileSync(store);
  assert.equal(two.length, one.length);
  await settle();
  assert.equal(get(home).stdout, 'value-two');
  assert.equal(get(home).stdout, 'value-two');
  const ref = timesOf(store, join(home, '..'));
  // Read once the swap's ctime is no longer fresh: only ctime differs from the stat of what was kept...
  rewriteKeepingTimes(store, one, ref);
  await settle();
  let r = get(home);
  assert.equal(r.stdout, 'value-one', 'the store was served from what the keeper had read before');
  // ...and at once after a swap back.
  rewriteKeepingTimes(store, two, ref);
  r = get(home);
  assert.equal(r.stdout, 'value-two');
  const swaps = rows(home).filter((x) => x.event === 'store.unrecorded_change');
  assert.deepEqual(swaps.map((x) => x.fields.store_sha256), [sha256(one), sha256(two)]);
});

test('an ancestor that execs is read anew: the marker its new image starts with is seen', () => {
  const home = unlockedHome();
  const [cmd, pre] = lsmCommand();
  const run = [cmd, ...pre].join(' ');
  // One shell (one pid): a get without a marker anywhere, then the shell execs itself into
  // one whose start-up environment names an agent, and its child (the marker removed from
  // its own environment) gets again. Same pid, same start time: only the new stack says it is another image.
  const script = `$LSMRUN get myapp dev API_KEY >/dev/null; exec env CLAUDECODE=1 sh -c 'env -u CLAUDECODE $LSMRUN get myapp dev API_KEY >/dev/null'`;
  const r = spawnSync('sh', ['-c', script], { env: cleanEnv({ LSM_DIR: home, LSMRUN: run }), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const gets = rows(home).filter((x) => x.event === 'get');
  assert.equal(gets.length, 2);
  assert.equal(gets[0].actor.agent_marker, '');
  assert.equal(gets[1].actor.agent_marker, 'claude', 'the ancestor was described as it was before its exec');
  // The same process both times.
  assert.equal(gets[1].fields.peer.marker_from.pid, gets[0].actor.ppid);
  assert.equal(gets[1].actor.ppid, gets[0].actor.ppid);
});

test('an ancestor read once is described the same from what was kept: the marker it started with, its pid', () => {
  const home = unlockedHome();
  const [cmd, pre] = lsmCommand();
  // The parent (node, started with CLAUDECODE=1) gets twice through a child without the
  // marker: the second request finds the parent in the keeper's memo.
  const code = `const { spawnSync } = require('node:child_process');
    for (let i = 0; i < 2; i++) {
      const env = { ...process.env }; delete env.CLAUDECODE;
      const r = spawnSync(${JSON.stringify(cmd)}, [...${JSON.stringify(pre)}, 'get', 'myapp', 'dev', 'API_KEY'], { env, stdio: 'ignore' });
      if (r.status !== 0) process.exit(1);
    }`;
  const r = spawnSync(process.execPath, ['-e', code], { env: cleanEnv({ LSM_DIR: home, CLAUDECODE: '1' }), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const gets = rows(home).filter((x) => x.event === 'get');
  assert.deepEqual(gets.map((g) => g.actor.agent_marker), ['claude', 'claude']);
  assert.deepEqual(gets[1].fields.peer.marker_from, gets[0].fields.peer.marker_from);
  assert.deepEqual(gets[1].fields.peer.ancestry.slice(0, 2), gets[0].fields.peer.ancestry.slice(0, 2));
});

test('a digest row the keeper checked once is not served from its memo once the log is cut short of it', async () => {
  const { appendEvent } = await import('../src/audit/log.ts');
  const { lastRecorded } = await import('../src/audit/digests.ts');
  const { useFileMemo } = await import('../src/file-memo.ts');
  const { truncateSync } = await import('node:fs');
  const log = join(tempDir('lsm-memo-digests-'), 'audit.jsonl');
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  appendEvent(log, { event: 'set', app: 'a', env: 'b', fields: { store_sha256: sha('one') } });
  const before = statSync(log).size;
  appendEvent(log, { event: 'set', app: 'a', env: 'b', fields: { store_sha256: sha('two') } });
  useFileMemo(true);
  try {
    assert.equal(lastRecorded(log, 'store:a/b')?.sha256, sha('two'));
    assert.equal(lastRecorded(log, 'store:a/b')?.sha256, sha('two'), 'served again while the row is there');
    // The second row cut into (its first bytes left): the index still names it.
    truncateSync(log, before + 40);
    assert.equal(lastRecorded(log, 'store:a/b')?.sha256, sha('one'), 'the row still in the log, found by the scan');
  } finally {
    useFileMemo(false);
  }
});
