import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { appendEvent, appendFailure, REPAIR_EVENT } from '../src/audit/log.js';
import { verifyLog } from '../src/audit/verify.js';
import { LsmError } from '../src/errors.js';
import { present } from './helpers.js';
import { ACTOR, VECTOR_1, VECTOR_2, clock, logFile, writeLines, writeLog } from './audit-fixtures.js';

function rows(path: string): any[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

test('appends chained schema-2 rows with contiguous seqs, in a 0600 file', () => {
  const path = writeLog(logFile(), [{ event: 'init' }, { event: 'set', app: 'a', env: 'dev', fields: { key: 'K' } }, { event: 'get', outcome: 'error' }]);
  const rs = rows(path);
  assert.deepEqual(rs.map((r) => r.seq), [1, 2, 3]);
  assert.deepEqual(rs.map((r) => r.outcome), ['ok', 'ok', 'error']);
  assert.equal(rs[0].prev, '0'.repeat(64));
  assert.equal(rs[1].prev, rs[0].hash);
  assert.equal(rs[0].ts, '2026-05-14T12:00:00Z');
  assert.equal(rs[1].ts, '2026-05-14T12:00:01Z');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(present(`${path}.lock`), false);
  const r = verifyLog(path);
  assert.deepEqual(r.problems, []);
  assert.equal(r.events, 3);
});

test('a log that starts with schema-1 rows of the original continues with schema 2 in one chain', () => {
  const path = writeLines(logFile(), [VECTOR_1, VECTOR_2]);
  writeLog(path, [{ event: 'get', fields: { key: 'API_KEY' } }]);
  const rs = rows(path);
  assert.equal(rs[2].schema_version, 2);
  assert.equal(rs[2].seq, 3);
  assert.equal(rs[2].prev, rs[1].hash);
  const r = verifyLog(path);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.schemas, { 1: 2, 2: 1 });
});

test('fields are written exactly as given, and nothing else is added to them', () => {
  const fields = { key: 'K<&>', keys: ['A', 'B'], count: 2, nested: { z: 1, a: [true, null] }, program: 'node' };
  const path = writeLog(logFile(), [{ event: 'exec', fields }]);
  const [r] = rows(path);
  assert.deepEqual(r.fields, fields);
  assert.deepEqual(Object.keys(r).sort(), ['actor', 'event', 'fields', 'hash', 'outcome', 'prev', 'schema_version', 'seq', 'ts']);
  assert.deepEqual(r.actor, ACTOR);
  // No field of the row is left undefined or filled from elsewhere.
  const path2 = writeLog(logFile(), [{ event: 'list', fields: { gone: undefined } as Record<string, unknown> }]);
  assert.equal(rows(path2)[0].fields, undefined);
});

test('a looser file mode is narrowed to 0600 on append', () => {
  const path = writeLog(logFile(), [{}]);
  chmodSync(path, 0o644);
  writeLog(path, [{}]);
  assert.equal(statSync(path).mode & 0o777, 0o600);
});

test('a torn last line is not chained onto: an audit.repair event names it, and verify accepts it', () => {
  const path = writeLog(logFile(), [{}, {}]);
  const fragment = '{"schema_version":2,"seq":3,"ts":"2026-05-';
  appendFileSync(path, fragment);
  assert.equal(verifyLog(path).notes[0]?.kind, 'torn_tail');
  assert.deepEqual(verifyLog(path).problems, []);
  writeLog(path, [{ event: 'get', fields: { key: 'K' } }]);
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes(`\n${fragment}\n`), 'the fragment stays as its own line');
  const rs = text.split('\n').filter((l) => l && l !== fragment).map((l) => JSON.parse(l));
  const repair = rs[2];
  assert.equal(repair.event, REPAIR_EVENT);
  assert.equal(repair.seq, 3);
  assert.equal(repair.prev, rs[1].hash);
  assert.equal(repair.local_only, true);
  assert.deepEqual(repair.fields, {
    fragment_bytes: Buffer.byteLength(fragment),
    fragment_sha256: createHash('sha256').update(fragment).digest('hex'),
  });
  assert.equal(rs[3].seq, 4);
  const r = verifyLog(path);
  assert.deepEqual(r.problems, []);
  assert.equal(r.notes.length, 1);
  assert.equal(r.notes[0].kind, 'repaired_tail');
  assert.equal(r.notes[0].line, 3);
  assert.equal(r.notes[0].seq, 3);
});

test('a last line that ends in a newline and is not a row is passed over, not repaired: verify keeps reporting it', () => {
  // One write() carries a row with its newline, so such a line was put there: here an edit
  // that blanked the last event, which a repair would have turned into a note.
  const path = writeLog(logFile(), [{}, {}]);
  const lines = readFileSync(path, 'utf8').split('\n');
  lines[1] = 'x';
  writeFileSync(path, lines.join('\n'));
  writeLog(path, [{}]);
  const rs = readFileSync(path, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  assert.deepEqual(rs.map((e) => [e.seq, e.event]), [[1, 'get'], [2, 'get']]);
  assert.equal(rs[1].prev, rs[0].hash);
  const r = verifyLog(path, { all: true });
  assert.deepEqual(r.problems.map((p) => [p.kind, p.line]), [['malformed', 2]]);
  assert.deepEqual(r.notes, []);
});

test('a repair covers the last line only: older junk stays a problem, appending goes on', () => {
  const path = writeLog(logFile(), [{}]);
  appendFileSync(path, 'junk one\njunk two');
  writeLog(path, [{}, {}]);
  const events = readFileSync(path, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => [e.seq, e.event]), [[1, 'get'], [2, REPAIR_EVENT], [3, 'get'], [4, 'get']]);
  const r = verifyLog(path, { all: true });
  assert.deepEqual(r.problems.map((p) => [p.kind, p.line]), [['malformed', 2]]);
  assert.equal(r.notes[0].kind, 'repaired_tail');
  assert.equal(r.notes[0].line, 3);
});

test('the end of the chain is found however long the last line is', () => {
  const path = writeLog(logFile(), [{ fields: { big: 'x'.repeat(300 * 1024) } }]);
  writeLog(path, [{}]);
  assert.deepEqual(rows(path).map((r) => r.seq), [1, 2]);
  assert.deepEqual(verifyLog(path).problems, []);
});

test('blank lines at the end are skipped, not repaired', () => {
  const path = writeLog(logFile(), [{}]);
  appendFileSync(path, '\n  \n');
  writeLog(path, [{}]);
  assert.deepEqual(rows(path).map((r) => r.event), ['get', 'get']);
  const r = verifyLog(path);
  assert.deepEqual([r.problems, r.notes], [[], []]);
});

test('16 processes appending at once give contiguous seqs and a chain that verifies', async () => {
  const path = logFile();
  const per = 20;
  const codes = await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      new Promise<number | null>((resolve) => {
        const p = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/scripts/audit-append.ts', path, String(per), `p${i}`], { stdio: 'inherit' });
        p.on('exit', resolve);
      })),
  );
  assert.deepEqual(codes, Array(16).fill(0));
  const rs = rows(path);
  assert.deepEqual(rs.map((r) => r.seq), Array.from({ length: 16 * per }, (_, i) => i + 1));
  assert.equal(new Set(rs.map((r) => r.fields.key)).size, 16 * per);
  const r = verifyLog(path);
  assert.deepEqual(r.problems, []);
  assert.equal(r.events, 16 * per);
});

test('a lock left by a killed process is taken over', () => {
  const path = writeLog(logFile(), [{}]);
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  writeFileSync(`${path}.lock`, `${dead} 12345\n`);
  const t0 = Date.now();
  writeLog(path, [{}]);
  assert.ok(Date.now() - t0 < 2000);
  assert.deepEqual(rows(path).map((r) => r.seq), [1, 2]);
});

test('a log that cannot be written fails with an io error that says why', () => {
  const dir = join(logFile(), '..');
  const asDir = join(dir, 'dir.jsonl');
  mkdirSync(asDir);
  assert.throws(() => appendEvent(asDir, { event: 'get' }, { actor: ACTOR }), (e: unknown) =>
    e instanceof LsmError && e.code === 'io' && /is a directory/.test(e.message));
  // A symlink to /dev/null would make every event vanish, one to another file would take
  // them there: no link is written through. A FIFO or device in the log's place is refused.
  const devnull = join(dir, 'null.jsonl');
  symlinkSync('/dev/null', devnull);
  assert.throws(() => appendEvent(devnull, { event: 'get' }, { actor: ACTOR }), /it is a symbolic link/);
  const elsewhere = join(dir, 'elsewhere.jsonl');
  writeFileSync(elsewhere, '');
  const linked = join(dir, 'linked.jsonl');
  symlinkSync(elsewhere, linked);
  assert.throws(() => appendEvent(linked, { event: 'get' }, { actor: ACTOR }), /it is a symbolic link/);
  assert.equal(readFileSync(elsewhere, 'utf8'), '');
  const fifo = join(dir, 'fifo.jsonl');
  spawnSync('mkfifo', [fifo]);
  assert.throws(() => appendEvent(fifo, { event: 'get' }, { actor: ACTOR }), /not a regular file/);
  assert.throws(() => appendEvent(join(dir, 'no', 'such', 'audit.jsonl'), { event: 'get' }, { actor: ACTOR }), (e: unknown) =>
    e instanceof LsmError && appendFailure(e) === 'the directory does not exist');
});

test('the injected clock and actor are used; by default the actor is captured', () => {
  const path = logFile();
  appendEvent(path, { event: 'get' }, { now: clock('2030-01-02T03:04:05.678Z') });
  const [r] = rows(path);
  assert.equal(r.ts, '2030-01-02T03:04:05.678Z');
  assert.equal(r.actor.pid, process.pid);
  assert.equal(r.actor.ppid, process.ppid);
  assert.ok(Array.isArray(r.actor.ancestry));
});

test('a whole row that lacks only its newline is chained onto, not repaired', () => {
  const path = writeLog(logFile(), [{}, {}]);
  const text = readFileSync(path, 'utf8');
  writeFileSync(path, text.slice(0, -1));
  assert.deepEqual(verifyLog(path).notes, []);
  writeLog(path, [{}]);
  assert.deepEqual(rows(path).map((r) => [r.seq, r.event]), [[1, 'get'], [2, 'get'], [3, 'get']]);
  const r = verifyLog(path);
  assert.deepEqual([r.problems, r.notes, r.events], [[], [], 3]);
});
