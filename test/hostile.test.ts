// Hostile input (test/fixtures/hostile/corpus.ts): every case must end in a clear,
// short error with the documented exit code, never a hang, a stack trace or a secret
// value, and leave the lsm home as it found it: every file's bytes and mode the same,
// no temp or lock file added. Only the audit log may change, and only by appending
// well-formed rows (a failed attempt is recorded) that hold no value.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initHome, lsm, tempDir } from './helpers.js';
import { CANARY, CASES, type Case, type Where } from './fixtures/hostile/corpus.js';
import { run, snapshot, snapshotDiff } from './fixtures/reliability.js';
import { identityToRecipient } from '../src/age/age.js';
import { verifyLog } from '../src/audit/verify.js';

// Made at load time: tempDir() registered from inside a before() hook is removed when the hook ends.
const base = initHome();
for (const args of [['set', 'app', 'dev', 'SECRET', CANARY], ['set', 'app', 'dev', 'OTHER', 'plain'], ['set', 'app', 'prod', 'SECRET', CANARY]]) {
  const r = lsm(args, { home: base });
  if (r.code !== 0) throw new Error(r.stderr);
}
const recipient = identityToRecipient(readFileSync(join(base, 'key.txt'), 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!);

function logBytes(home: string): Buffer | undefined {
  const path = join(home, 'audit.jsonl');
  try {
    return lstatSync(path).isFile() ? readFileSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/** What the command appended to the log must be whole rows, holding no value. */
function checkAppended(c: Case, home: string, was: Buffer | undefined): void {
  const now = logBytes(home);
  if (was === undefined) return;
  assert.ok(now, 'the log is still a file');
  assert.ok(now.subarray(0, was.length).equals(was), 'the log was only appended to');
  const added = now.subarray(was.length).toString('utf8');
  assert.equal(added.includes(CANARY), false, 'a value reached the audit log');
  for (const line of added.split('\n').filter((l) => l !== '')) {
    const row = JSON.parse(line);
    assert.equal(row.schema_version, 2);
    assert.equal(typeof row.seq, 'number');
    assert.match(row.hash, /^[0-9a-f]{64}$/);
  }
  if (!c.logBroken && now.length > 0) {
    const v = verifyLog(join(home, 'audit.jsonl'));
    assert.deepEqual(v.problems, [], 'the log verifies');
  }
}

describe(`hostile input: ${CASES.length} cases, each a clear error and an untouched home`, { concurrency: 2 }, () => {
  it('the corpus has at least 50 cases, all named differently', () => {
    assert.ok(CASES.length >= 50);
    assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length);
  });

  for (const c of CASES) {
    it(c.name, { timeout: (c.timeoutMs ?? 30_000) + 30_000 }, async () => {
      const dir = tempDir('lsm-hostile-');
      const w: Where = { home: join(dir, 'home'), cwd: join(dir, 'cwd'), recipient };
      cpSync(base, w.home, { recursive: true });
      mkdirSync(w.cwd);
      c.setup?.(w);
      const snap = snapshot(w.home);
      const log = logBytes(w.home);
      const args = typeof c.args === 'function' ? c.args(w) : c.args;
      const r = await run(args, { home: w.home, cwd: w.cwd, input: c.input, timeoutMs: c.timeoutMs ?? 30_000 });

      assert.equal(r.signal, null, `lsm hung or died (${r.signal}): ${r.stderr.slice(0, 500)}`);
      assert.equal(r.code, c.code, `exit ${r.code}, stderr: ${r.stderr.slice(0, 500)}`);
      assert.match(r.stderr, c.stderr);
      assert.ok(r.stderr.length < 2000, `a short message, not a dump (${r.stderr.length} bytes)`);
      assert.doesNotMatch(r.stderr, /\n\s+at |unexpected internal error/, 'no stack trace, no internal error');
      assert.doesNotMatch(r.stderr, /[\x00-\x08\x0b-\x1f\x7f]/, 'no control characters reach the terminal');
      assert.equal(r.stderr.includes(CANARY), false, 'no value in an error message');
      if (c.stdout !== undefined) {
        if (typeof c.stdout === 'string') assert.equal(r.stdout, c.stdout);
        else assert.match(r.stdout, c.stdout);
      } else assert.equal(r.stdout.includes(CANARY), false, 'no value on stdout');

      // audit.digests is the log's own index (the last digest recorded per store and config).
      assert.deepEqual(snapshotDiff(snap, snapshot(w.home), (p) => (p === 'audit.jsonl' || p === 'audit.digests') && log !== undefined), []);
      checkAppended(c, w.home, log);
    });
  }
});
