// The tamper matrix of docs/tamper-evidence.md: every attack applied to a real log
// written by the built CLI (sealed, and shipped to a stand-in collector whose
// checkpoints become the anchors), then `lsm audit verify` with no key, with the
// verification key, and with the anchors. The attacker knows the code: where an
// attack can recompute the chain, it does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { initHome, lsm, tempDir, type RunResult } from './helpers.js';
import { Receiver } from './fixtures/otlp/receiver.js';
import { enableShipping, lsmAsync, ship } from './fixtures/otlp/ship-env.js';
import { computeHash } from '../src/audit/chain.js';
import { encodeLine, toRow, type AuditRow } from '../src/audit/event.js';
import { parseVerificationKey, readKeyFile, sealOf, writeKeyFile } from '../src/audit/seal.js';

const ROWS = 130;
/** The row the middle attacks aim at: sealed, and before several anchors. */
const X = 50;

// Made here, not in before(): a temp dir made inside a hook is removed when the hook ends.
const base = initHome();
let vkFile = '';
let anchorsFile = '';
let anchored: number[] = [];
const scratch = tempDir('lsm-tamper-');
const receiver = Receiver.start();

function ok(r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r;
}

before(async () => {
  ok(lsm(['set', 'app', 'dev', 'API_KEY', 'value-1'], { home: base }));
  const init = JSON.parse(ok(lsm(['audit', 'seal', 'init', '--format', 'json'], { home: base })).stdout);
  vkFile = join(scratch, 'vk.txt');
  writeFileSync(vkFile, `${init.verification_key}\n`);
  // Four commands at a time: sealing shares the log's lock, so the seqs and keys stay in step.
  let n = 3;
  while (n < ROWS) {
    const batch = [];
    for (let i = 0; i < 4 && n < ROWS; i++, n++) batch.push(lsmAsync(['get', 'app', 'dev', 'API_KEY'], base));
    for (const r of await Promise.all(batch)) assert.equal(r.code, 0, r.stderr);
  }
  const config = readFileSync(join(base, 'config.yaml'), 'utf8');
  const r = await receiver;
  enableShipping(base, { enabled: true, endpoint: r.url, batch_size: 20 });
  const shipped = await ship(base);
  assert.equal(shipped.code, 0, shipped.stderr);
  writeFileSync(join(base, 'config.yaml'), config);
  // What a collector's file exporter writes: one OTLP/JSON request per line.
  anchorsFile = join(scratch, 'anchors.jsonl');
  writeFileSync(anchorsFile, r.requests.map((q) => JSON.stringify(q.body)).join('\n') + '\n');
  anchored = r.delivered().filter((d) => d.attrs['lsm.kind'] === 'checkpoint').map((d) => Number(d.attrs['lsm.seq']));
});

after(async () => {
  await (await receiver).stop();
});

// ---- the attacker's tools

function logOf(home: string): string {
  return join(home, 'audit.jsonl');
}

function readRows(home: string): AuditRow[] {
  return readFileSync(logOf(home), 'utf8').trimEnd().split('\n').map((l) => toRow(JSON.parse(l)));
}

/** Renumbers from `from` (an index) and recomputes every hash after it; seals stay as they were. */
function writeRechained(home: string, rows: AuditRow[], from: number): void {
  for (let i = from; i < rows.length; i++) {
    rows[i].seq = i + 1;
    rows[i].prev = rows[i - 1].hash;
    rows[i].hash = computeHash(rows[i]);
  }
  writeFileSync(logOf(home), rows.map((r) => `${encodeLine(r)}\n`).join(''));
}

function editLines(home: string, edit: (lines: string[]) => string[]): void {
  const lines = readFileSync(logOf(home), 'utf8').trimEnd().split('\n');
  writeFileSync(logOf(home), edit(lines).map((l) => `${l}\n`).join(''));
}

const moveTs = (r: AuditRow) => {
  r.ts = '2020-01-01T00:00:00Z';
};

function cutAndRewind(home: string, n: number): void {
  editLines(home, (l) => l.slice(0, -n));
  const kf = readKeyFile(join(home, 'audit.seal'))!;
  writeKeyFile(join(home, 'audit.seal'), { ...kf, nextSeq: ROWS - n + 1 }, { replace: true });
}

const ATTACKS: Record<string, (home: string) => void> = {
  none: () => {},
  'edit a field': (home) => editLines(home, (l) => {
    l[X - 1] = l[X - 1].replace(/"ts":"[^"]*"/, '"ts":"2020-01-01T00:00:00Z"');
    return l;
  }),
  'edit and recompute the chain': (home) => {
    const rows = readRows(home);
    moveTs(rows[X - 1]);
    writeRechained(home, rows, X - 1);
  },
  'insert a row (chain recomputed)': (home) => {
    const rows = readRows(home);
    const fake = { ...rows[X - 2], fields: { key: 'NOT_REALLY' }, seal: `${rows[X - 2].seal!.split(':')[0]}:${randomBytes(16).toString('hex')}` };
    rows.splice(X - 1, 0, fake);
    writeRechained(home, rows, X - 1);
  },
  'delete a middle row (chain recomputed)': (home) => {
    const rows = readRows(home);
    rows.splice(X - 1, 1);
    writeRechained(home, rows, X - 1);
  },
  'swap two rows (chain recomputed)': (home) => {
    const rows = readRows(home);
    [rows[X - 1], rows[X]] = [rows[X], rows[X - 1]];
    writeRechained(home, rows, X - 1);
  },
  'truncate 1 row': (home) => editLines(home, (l) => l.slice(0, -1)),
  'truncate 100 rows': (home) => editLines(home, (l) => l.slice(0, -100)),
  // The key file's check is a plain hash: its index can be rewritten to match the cut.
  'truncate 1 row, key file index rewritten': (home) => cutAndRewind(home, 1),
  'truncate 100 rows, key file index rewritten': (home) => cutAndRewind(home, 100),
  // Whoever runs lsm can start a key of their own and seal from there on.
  'seal init --force, then 2 reads': (home) => {
    ok(lsm(['audit', 'seal', 'init', '--force', '--format', 'json'], { home }));
    for (let i = 0; i < 2; i++) ok(lsm(['get', 'app', 'dev', 'API_KEY'], { home }));
  },
  'delete the log': (home) => rmSync(logOf(home)),
  'delete the key file': (home) => rmSync(join(home, 'audit.seal')),
  'replace log and key file with a fresh seal init': (home) => {
    rmSync(logOf(home));
    rmSync(join(home, 'audit.seal'));
    ok(lsm(['audit', 'seal', 'init', '--format', 'json'], { home }));
    for (let i = 0; i < 3; i++) ok(lsm(['get', 'app', 'dev', 'API_KEY'], { home }));
  },
  'strip seals': (home) => editLines(home, (l) => l.map((x) => x.replace(/,"seal":"[^"]*"/, ''))),
  're-seal old rows with the current key': (home) => {
    const kf = readKeyFile(join(home, 'audit.seal'))!;
    const rows = readRows(home);
    moveTs(rows[X - 1]);
    writeRechained(home, rows, X - 1);
    for (const r of rows.slice(X - 1)) r.seal = sealOf(kf.keyId, kf.key, r.seq, r.hash);
    writeFileSync(logOf(home), rows.map((r) => `${encodeLine(r)}\n`).join(''));
  },
};

type Mode = 'none' | 'key' | 'anchors';
type Cell = { integrity: string; seals: string; completeness: string };

function verify(attack: string, mode: Mode): { cell: Cell; json: any; code: number | null } {
  const home = join(scratch, `${attack.replace(/\W+/g, '-')}-${mode}`);
  cpSync(base, home, { recursive: true });
  ATTACKS[attack](home);
  const extra = mode === 'key' ? ['--verification-key', vkFile] : mode === 'anchors' ? ['--anchors', anchorsFile] : [];
  const r = lsm(['audit', 'verify', '--format', 'json', ...extra], { home });
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const json = JSON.parse(r.stdout);
  const at = (v: any, problems: any[] = []) => {
    const seq = problems[0]?.seq ?? v.findings[0]?.seq;
    return v.status === 'fail' ? `fail@${seq}` : v.status;
  };
  const cell = {
    integrity: at(json.verdicts.integrity, json.problems),
    seals: at(json.verdicts.seals),
    completeness: at(json.verdicts.completeness),
  };
  assert.equal(r.code, Object.values(cell).some((c) => c.startsWith('fail')) ? 1 : 0);
  return { cell, json, code: r.code };
}

const firstAnchorFrom = (seq: number) => Math.min(...anchored.filter((s) => s >= seq));
const cell = (integrity: string, seals: string, completeness: string): Cell => ({ integrity, seals, completeness });

test('the untouched log passes every check it can be given', () => {
  assert.ok(anchored.length >= 5, `checkpoints at ${anchored}`);
  assert.equal(Math.max(...anchored), ROWS, 'the last checkpoint anchors the last row');
  assert.deepEqual(verify('none', 'none').cell, cell('ok', 'unchecked', 'ok'));
  assert.deepEqual(verify('none', 'key').cell, cell('ok', 'ok', 'ok'));
  assert.deepEqual(verify('none', 'anchors').cell, cell('ok', 'unchecked', 'ok'));
});

/** attack -> [no key, key, anchors]; a function when the figure depends on where the checkpoints fell. */
const EXPECT: Record<string, () => [Cell, Cell, Cell]> = {
  'edit a field': () => [cell(`fail@${X}`, 'unchecked', 'ok'), cell(`fail@${X}`, 'ok', 'ok'), cell(`fail@${X}`, 'unchecked', 'ok')],
  // The edit stamps row X in 2020, before the rows above it: the time check fails it at X (#18.2).
  'edit and recompute the chain': () => [cell(`fail@${X}`, 'unchecked', 'ok'), cell(`fail@${X}`, `fail@${X}`, 'ok'), cell(`fail@${X}`, 'unchecked', 'ok')],
  'insert a row (chain recomputed)': () => [cell('ok', 'unchecked', 'ok'), cell('ok', `fail@${X}`, 'ok'), cell(`fail@${firstAnchorFrom(X)}`, 'unchecked', 'ok')],
  'delete a middle row (chain recomputed)': () => [
    cell('ok', 'unchecked', `fail@${ROWS}`), cell('ok', `fail@${X}`, `fail@${ROWS}`), cell(`fail@${firstAnchorFrom(X)}`, 'unchecked', `fail@${ROWS}`),
  ],
  'swap two rows (chain recomputed)': () => [cell('ok', 'unchecked', 'ok'), cell('ok', `fail@${X}`, 'ok'), cell(`fail@${firstAnchorFrom(X)}`, 'unchecked', 'ok')],
  'truncate 1 row': () => [cell('ok', 'unchecked', `fail@${ROWS}`), cell('ok', 'ok', `fail@${ROWS}`), cell('ok', 'unchecked', `fail@${ROWS}`)],
  'truncate 100 rows': () => [
    cell('ok', 'unchecked', `fail@${ROWS - 99}`), cell('ok', 'ok', `fail@${ROWS - 99}`), cell('ok', 'unchecked', `fail@${ROWS - 99}`),
  ],
  'truncate 1 row, key file index rewritten': () => [cell('ok', 'unchecked', 'ok'), cell('ok', 'ok', `fail@${ROWS}`), cell('ok', 'unchecked', `fail@${firstAnchorFrom(ROWS)}`)],
  'truncate 100 rows, key file index rewritten': () => [
    cell('ok', 'unchecked', 'ok'), cell('ok', 'ok', `fail@${ROWS - 99}`), cell('ok', 'unchecked', `fail@${firstAnchorFrom(ROWS - 99)}`),
  ],
  'seal init --force, then 2 reads': () => [cell('ok', 'unchecked', 'ok'), cell('ok', `fail@${ROWS + 2}`, 'ok'), cell('ok', 'unchecked', 'ok')],
  'delete the log': () => [cell('unchecked', 'unchecked', 'fail@1'), cell('unchecked', 'unchecked', 'fail@1'), cell('unchecked', 'unchecked', 'fail@1')],
  'delete the key file': () => [cell('ok', 'unchecked', 'fail@0'), cell('ok', 'ok', 'fail@0'), cell('ok', 'unchecked', 'fail@0')],
  'replace log and key file with a fresh seal init': () => [
    cell('ok', 'unchecked', 'ok'), cell('ok', 'fail@3', 'ok'), cell('ok', 'unchecked', `fail@${anchored[0]}`),
  ],
  'strip seals': () => [cell('ok', 'fail@4', 'ok'), cell('ok', 'fail@4', 'ok'), cell('ok', 'fail@4', 'ok')],
  // The edit stamps row X in 2020, before the rows above it: the time check fails it at X (#18.2).
  're-seal old rows with the current key': () => [cell(`fail@${X}`, 'unchecked', 'ok'), cell(`fail@${X}`, `fail@${X}`, 'ok'), cell(`fail@${X}`, 'unchecked', 'ok')],
};

const table: string[] = [];
for (const [attack, expect] of Object.entries(EXPECT)) {
  test(`tamper matrix: ${attack}`, () => {
    const runs = (['none', 'key', 'anchors'] as Mode[]).map((m) => verify(attack, m));
    const got = runs.map((r) => r.cell);
    table.push(`| ${attack} | ${got.map((c) => `${c.integrity} / ${c.seals} / ${c.completeness}`).join(' | ')} |`);
    assert.deepEqual(got, expect(), `checkpoints at ${anchored}; ${runs.map((r) => JSON.stringify(r.json.verdicts.completeness.summary)).join(' | ')}`);
  });
}

test('print the matrix (for docs/tamper-evidence.md)', () => {
  if (process.env.LSM_PRINT_MATRIX) process.stderr.write(`\n${table.join('\n')}\n`);
});

test('after a truncation the next append records the gap: it is reported, never papered over', () => {
  const home = join(scratch, 'gap-after-append');
  cpSync(base, home, { recursive: true });
  ATTACKS['truncate 100 rows'](home);
  ok(lsm(['get', 'app', 'dev', 'API_KEY'], { home }));
  const rows = readRows(home);
  const gap = rows.find((r) => r.event === 'audit.seal.gap')!;
  assert.deepEqual([gap.seq, gap.fields], [ROWS + 1, { expected_seq: ROWS + 1, found_last_seq: ROWS - 100 }]);
  for (const extra of [[], ['--verification-key', vkFile]]) {
    const r = lsm(['audit', 'verify', '--format', 'text', ...extra], { home });
    assert.equal(r.code, 1);
    // The verdict first: the chain alone is intact, but the log is not complete.
    assert.match(r.stdout, /^FAIL: completeness .*\nchain: valid /);
    assert.match(r.stdout, /^completeness: FAIL/m);
    assert.match(r.stderr, new RegExp(`FAIL completeness at seq=${ROWS + 1}: rows ${ROWS - 99}\\.\\.${ROWS} are missing`));
  }
});

test('after the key file is deleted the next append records the lost key, and the seals verdict fails from there', () => {
  const home = join(scratch, 'lost-after-append');
  cpSync(base, home, { recursive: true });
  rmSync(join(home, 'audit.seal'));
  ok(lsm(['get', 'app', 'dev', 'API_KEY'], { home }));
  ok(lsm(['get', 'app', 'dev', 'API_KEY'], { home }));
  const rows = readRows(home);
  assert.deepEqual(rows.filter((r) => r.event === 'audit.seal.lost').map((r) => r.seq), [ROWS + 1], 'recorded once');
  assert.equal(existsSync(join(home, 'audit.seal')), false, 'no key appears out of nowhere');
  for (const extra of [[], ['--verification-key', vkFile]]) {
    const j = JSON.parse(lsm(['audit', 'verify', '--format', 'json', ...extra], { home }).stdout);
    assert.equal(j.verdicts.seals.status, 'fail');
    assert.deepEqual([j.verdicts.seals.findings[0].kind, j.verdicts.seals.findings[0].seq], ['key_lost', ROWS + 1]);
  }
});

test('the verification key is printed once and is nowhere on disk', () => {
  const vk = readFileSync(vkFile, 'utf8').trim();
  const body = vk.split('-').slice(2).join('');
  const { root } = parseVerificationKey(vk);
  for (const name of ['audit.jsonl', 'audit.seal', 'config.yaml', 'audit.cursor', 'ship.state']) {
    const text = readFileSync(join(base, name), 'utf8').toLowerCase();
    for (const form of [vk, body, root]) assert.ok(!text.includes(form), `${name} holds the verification key`);
  }
  const r = lsm(['audit', 'verify', '--format', 'json', '--verification-key', vkFile], { home: base });
  assert.equal(JSON.parse(r.stdout).ok, true);
});
