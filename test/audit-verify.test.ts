import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { verifyLog } from '../src/audit/verify.js';
import { VECTOR_1, VECTOR_2, logFile, writeLines, writeLog } from './audit-fixtures.js';

/** A valid log of n rows, as lines. */
function valid(n: number): { path: string; lines: string[] } {
  const path = writeLog(logFile(), Array.from({ length: n }, (_, i) => ({ fields: { key: `K${i + 1}` } })));
  return { path, lines: readFileSync(path, 'utf8').trimEnd().split('\n') };
}

function problems(lines: string[], all = true) {
  const path = writeLines(logFile(), lines);
  return verifyLog(path, { all }).problems.map((p) => ({ kind: p.kind, seq: p.seq, line: p.line, message: p.message }));
}

test('the original two rows verify', () => {
  const r = verifyLog(writeLines(logFile(), [VECTOR_1, VECTOR_2]));
  assert.deepEqual(r.problems, []);
  assert.equal(r.events, 2);
});

test('a hand-reformatted row of the original still verifies (the chain protects meaning)', () => {
  const spaced = JSON.stringify(JSON.parse(VECTOR_1), null, 1).replace(/\n/g, ' ');
  assert.notEqual(spaced, VECTOR_1);
  assert.deepEqual(problems([spaced, VECTOR_2]), []);
});

test('a changed value is a hash mismatch at its seq and line', () => {
  const { lines } = valid(4);
  lines[2] = lines[2].replace('"K3"', '"K9"');
  assert.deepEqual(problems(lines), [{ kind: 'hash_mismatch', seq: 3, line: 3, message: 'hash mismatch: row tampered' }]);
});

test('a deleted row is a seq gap', () => {
  const { lines } = valid(4);
  lines.splice(1, 1);
  const [p] = problems(lines);
  assert.deepEqual([p.kind, p.seq, p.line, p.message], ['seq_gap', 3, 2, 'seq gap: expected 2, got 3']);
});

test('a duplicated row is a seq duplicate', () => {
  const { lines } = valid(3);
  lines.splice(2, 0, lines[1]);
  const [p] = problems(lines);
  assert.deepEqual([p.kind, p.seq, p.line], ['seq_duplicate', 2, 3]);
});

test('a rehashed row breaks the prev of the next one', () => {
  const { lines } = valid(3);
  const o = JSON.parse(lines[1]);
  o.hash = 'f'.repeat(64);
  lines[1] = JSON.stringify(o);
  const ps = problems(lines);
  assert.deepEqual(ps.map((p) => [p.kind, p.seq, p.line]), [['hash_mismatch', 2, 2], ['prev_mismatch', 3, 3]]);
});

test('malformed JSON, an unsupported schema and a missing hash are named', () => {
  const { lines } = valid(5);
  lines[1] = '{"schema_version":2,"seq":2,';
  lines[2] = lines[2].replace('"schema_version":2', '"schema_version":7');
  lines[3] = lines[3].replace(/"hash":"[0-9a-f]{64}"/, '"hash":""');
  const ps = problems(lines);
  assert.deepEqual(ps.map((p) => [p.kind, p.seq, p.line]), [['malformed', 0, 2], ['schema', 3, 3], ['missing_hash', 4, 4]]);
  assert.equal(ps[0].message, 'malformed JSON');
  assert.equal(ps[1].message, 'unsupported schema_version: 7');
});

test('without --all verification stops at the first problem', () => {
  const { lines } = valid(5);
  lines[1] = lines[1].replace('"K2"', '"X"');
  lines[3] = lines[3].replace('"K4"', '"X"');
  assert.equal(problems(lines, false).length, 1);
  assert.equal(problems(lines, true).length, 2);
});

test('bytes after the hash are tampering even though every reader would parse them', () => {
  const { lines } = valid(2);
  lines[1] = lines[1].replace(/}$/, ',"app":"other"}');
  assert.deepEqual(problems(lines).map((p) => p.kind), ['hash_mismatch']);
});

test('a trailing seal is accepted and not hashed', () => {
  const { lines } = valid(2);
  lines[0] = lines[0].replace(/}$/, ',"seal":"abc123=="}');
  assert.deepEqual(problems(lines), []);
});

test('an audit.repair that names no torn line is flagged', () => {
  const { path } = valid(1);
  appendFileSync(path, 'torn');
  writeLog(path, [{}]);
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  assert.deepEqual(problems(lines), []);
  lines.splice(1, 1); // remove the torn line, keep its repair
  assert.deepEqual(problems(lines).map((p) => [p.kind, p.line]), [['repair_mismatch', 2]]);
  const other = readFileSync(path, 'utf8').trimEnd().split('\n');
  other[1] = 'tornX'; // a different fragment than the one the repair names
  assert.deepEqual(problems(other).map((p) => [p.kind, p.line]), [['malformed', 2]]);
});

test('an unrepaired torn tail is reported as such, not as tampering', () => {
  const { path } = valid(2);
  appendFileSync(path, '{"schema_version":2,"seq":3');
  const r = verifyLog(path);
  assert.deepEqual(r.problems, []);
  assert.equal(r.notes[0].kind, 'torn_tail');
  assert.equal(r.notes[0].line, 3);
});

test('a 10 MB line is verified like any other', () => {
  const path = writeLog(logFile(), [{}, { fields: { big: 'y'.repeat(10 * 1024 * 1024) } }, {}]);
  const r = verifyLog(path);
  assert.deepEqual(r.problems, []);
  assert.equal(r.events, 3);
});

test('a missing file and an empty file are not failures', () => {
  assert.equal(verifyLog(`${logFile()}.none`).exists, false);
  const empty = logFile();
  writeFileSync(empty, '');
  const r = verifyLog(empty);
  assert.deepEqual([r.exists, r.events, r.problems.length], [true, 0, 0]);
});

test('progress is reported as bytes read of the total', () => {
  const { path } = valid(3);
  const seen: Array<[number, number]> = [];
  verifyLog(path, { onProgress: (a, b) => seen.push([a, b]) });
  const size = readFileSync(path).length;
  assert.deepEqual(seen.at(-1), [size, size]);
});
