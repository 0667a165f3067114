import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { verifyLog } from '../src/audit/verify.js';
import { encodeRow, shapeProblem, toRow } from '../src/audit/event.js';
import { logFile } from './audit-fixtures.js';

test('the bench generator writes canonical chained rows that verify', () => {
  const path = logFile();
  const r = spawnSync(process.execPath, ['scripts/gen-audit-log.mjs', path, '3000', '--seed', '7', '--start', '2026-05-01T00:00:00Z'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = verifyLog(path);
  assert.deepEqual(report.problems, []);
  assert.equal(report.events, 3000);
  // Canonical: each line is exactly lsm's encoding, so verify takes its fast path.
  for (const line of readFileSync(path, 'utf8').trimEnd().split('\n').slice(0, 200)) {
    const obj = JSON.parse(line);
    assert.equal(shapeProblem(obj), undefined);
    assert.equal(encodeRow(toRow(obj), obj.hash), line);
  }
  // The same seed gives the same file.
  const again = logFile();
  spawnSync(process.execPath, ['scripts/gen-audit-log.mjs', again, '3000', '--seed', '7', '--start', '2026-05-01T00:00:00Z']);
  assert.equal(readFileSync(again, 'utf8'), readFileSync(path, 'utf8'));
});
