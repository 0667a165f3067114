import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, cpSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendEvent } from '../src/audit/log.js';
import { readAnchors } from '../src/audit/anchors.js';
import { verifySealed } from '../src/audit/seal-verify.js';
import { verifyLog } from '../src/audit/verify.js';
import { computeHash } from '../src/audit/chain.js';
import { encodeLine, encodeRow, toRow } from '../src/audit/event.js';
import {
  SEAL_INIT_EVENT, evolve, formatVerificationKey, keyIdOf, macOf, parseVerificationKey, readKeyFile, rootFromSeed, sealKeyPath,
} from '../src/audit/seal.js';
import { ACTOR, clock, logFile, writeLog } from './audit-fixtures.js';
import { lsm, initHome, tempDir } from './helpers.js';

const now = clock();

/** Starts sealing on `path` through the same append seam `seal init` uses; returns the verification key. */
function sealInit(path: string, seed = Buffer.alloc(32, 7)) {
  const root = rootFromSeed(seed);
  const row = appendEvent(path, { event: SEAL_INIT_EVENT, fields: { key_id: keyIdOf(root) } }, { actor: ACTOR, now, rekey: { root } });
  return parseVerificationKey(formatVerificationKey(row.seq, root));
}

function gets(path: string, n: number): void {
  writeLog(path, Array.from({ length: n }, (_, i) => ({ fields: { key: `K${i}` } })), now);
}

const lines = (path: string) => readFileSync(path, 'utf8').trimEnd().split('\n');
const status = (r: ReturnType<typeof verifySealed>) => Object.values(r.verdicts).map((v) => v.status).join('/');

test('the key schedule and its formats match the documented test vector', () => {
  // docs/tamper-evidence.md: the same figures from a 15-line Python verifier.
  const root = rootFromSeed(Buffer.alloc(32));
  assert.equal(root, '8b877cc878376f5bc60a4283691baa3140505cec5b2351be5f34ed60cfbddcdd');
  assert.equal(keyIdOf(root), '340dc381d99a3d92');
  assert.equal(formatVerificationKey(7, root), 'lsmvk1-7-he3qsj3r-6xqnqhga-8a1pj6xa-65050q7c-bchn3fjz-6kpp1kxx-vkeg52fw');
  const k8 = evolve(root);
  assert.equal(k8, '0e26f447c94a8e7a4ea07c7faf5b38549cf3749aa5293b0b63121a0120c792e4');
  assert.equal(macOf(k8, 8, 'a'.repeat(64)), 'b387bf73a3d63d7b2146e189adaec46d');
});

test('a verification key survives retyping and catches typos', () => {
  const vk = formatVerificationKey(7, rootFromSeed(Buffer.alloc(32)));
  const want = parseVerificationKey(vk);
  assert.deepEqual(parseVerificationKey(vk.toUpperCase().replace(/-/g, ' - ').replace(/^LSMVK1 - 7 - /, 'lsmvk1-7-')), want);
  // Crockford: 1 may be read as I or L, 0 as O.
  assert.deepEqual(parseVerificationKey(vk.replace('8a1pj', '8aLpj').replace('65050', '65O5o')), want);
  assert.throws(() => parseVerificationKey(vk.replace('he3q', 'he4q')), /checksum does not match/);
  assert.throws(() => parseVerificationKey(vk.replace('lsmvk1-7-', 'lsmvk1-8-')), /checksum does not match/);
  assert.throws(() => parseVerificationKey(vk.slice(0, -1)), /56 characters/);
  assert.throws(() => parseVerificationKey('lsmvk2-7-abc'), /lsmvk1/);
});

test('every row after seal init is sealed with the key of its own seq; the key file keeps only the next key', () => {
  const path = logFile();
  gets(path, 2);
  const vk = sealInit(path);
  assert.equal(vk.initSeq, 3);
  gets(path, 4);
  const rows = lines(path).map((l) => JSON.parse(l));
  assert.equal(rows[2].seal, undefined, 'the init row of a first key is not sealed (no key before it)');
  let key = vk.root;
  for (const r of rows.slice(3)) {
    key = evolve(key);
    assert.equal(r.seal, `${vk.keyId}:${macOf(key, r.seq, r.hash)}`);
  }
  const kf = readKeyFile(sealKeyPath(path))!;
  assert.deepEqual(kf, { keyId: vk.keyId, nextSeq: 8, key: evolve(key) });
  assert.equal(statSync(sealKeyPath(path)).mode & 0o777, 0o600);
  assert.ok(!readFileSync(sealKeyPath(path), 'utf8').includes(vk.root));
  const r = verifySealed(path, { keys: [vk] });
  assert.equal(status(r), 'ok/ok/ok');
  assert.deepEqual(r.verdicts.seals.ranges, [{ keyId: vk.keyId, from: 4, to: 7, rows: 4, checked: true }]);
  assert.match(r.verdicts.seals.summary, /^OK \(seq 4\.\.7 sealed by key [0-9a-f]{16}, each checked against the key of its own seq; seq 1\.\.3 before sealing began\)$/);
});

test('a crash between the row and the key file leaves the key behind: harmless, the next append catches up', () => {
  const path = logFile();
  const vk = sealInit(path);
  gets(path, 2);
  const saved = join(tempDir(), 'key');
  copyFileSync(sealKeyPath(path), saved);
  gets(path, 1);
  copyFileSync(saved, sealKeyPath(path));
  const behind = verifySealed(path, { keys: [vk] });
  assert.equal(status(behind), 'ok/ok/ok');
  assert.match(behind.verdicts.completeness.summary, /1 row past the seal key file's index: an interrupted append/);
  gets(path, 2);
  assert.equal(status(verifySealed(path, { keys: [vk] })), 'ok/ok/ok');
  assert.equal(readKeyFile(sealKeyPath(path))!.nextSeq, 7);
});

test('rows cut off with a torn last line: the gap row records both, and verify reports the gap', () => {
  const path = logFile();
  const vk = sealInit(path);
  gets(path, 5);
  const ls = lines(path);
  // Rows 5 and 6 gone, and half of row 4.
  writeFileSync(path, `${ls.slice(0, 3).join('\n')}\n${ls[3].slice(0, 40)}`);
  const r0 = verifySealed(path, { keys: [vk] });
  assert.equal(r0.verdicts.completeness.findings[0].kind, 'truncated');
  gets(path, 1);
  const rows = lines(path).slice(4).map((l) => JSON.parse(l));
  assert.deepEqual([rows[0].event, rows[0].seq, rows[0].fields.expected_seq, rows[0].fields.found_last_seq, rows[0].fields.fragment_bytes], ['audit.seal.gap', 7, 7, 3, 40]);
  assert.equal(rows[1].seq, 8);
  const r = verifySealed(path, { keys: [vk], all: true });
  assert.equal(status(r), 'ok/ok/fail');
  assert.deepEqual(r.report.problems, []);
  assert.deepEqual(r.report.notes.map((n) => n.kind), ['repaired_tail']);
  assert.deepEqual(r.verdicts.completeness.findings.map((f) => [f.kind, f.seq]), [['gap', 7]]);
  // The chain verifier alone (as the Go original would) still sees the seq jump, now as a recorded gap.
  assert.deepEqual(verifyLog(path).notes.map((n) => n.kind), ['seal_gap', 'repaired_tail']);
});

test('a forged gap row hides nothing: the gap is still reported, and the key shows the forgery', () => {
  const path = logFile();
  const vk = sealInit(path);
  gets(path, 4);
  const ls = lines(path);
  // Rows 2 and 3 deleted, row 4 turned into a gap "explaining" them.
  const row = toRow(JSON.parse(ls[3]));
  row.event = 'audit.seal.gap';
  row.fields = { expected_seq: 4, found_last_seq: 1 };
  row.prev = JSON.parse(ls[0]).hash;
  writeFileSync(path, [ls[0], encodeRow(row, row.hash), ls[4]].map((l) => `${l}\n`).join(''));
  assert.equal(verifyLog(path).problems[0].kind, 'hash_mismatch');
  row.hash = computeHash(row);
  const next = toRow(JSON.parse(ls[4]));
  next.prev = row.hash;
  next.hash = computeHash(next);
  writeFileSync(path, [ls[0], encodeLine(row), encodeLine(next)].map((l) => `${l}\n`).join(''));
  const r = verifySealed(path, { keys: [vk] });
  assert.equal(status(r), 'ok/fail/fail');
  assert.deepEqual(r.verdicts.completeness.findings.map((f) => [f.kind, f.seq]), [['gap', 4]]);
  assert.deepEqual(r.verdicts.seals.findings.map((f) => [f.kind, f.seq, f.seqTo]), [['seal_mismatch', 4, 5]]);
});

test('seal init again (--force): the old key covers the rows up to the re-init, which it seals; the new key the rest', () => {
  const path = logFile();
  const v1 = sealInit(path, Buffer.alloc(32, 1));
  gets(path, 3);
  const v2 = sealInit(path, Buffer.alloc(32, 2));
  gets(path, 3);
  const init2 = JSON.parse(lines(path)[v2.initSeq - 1]);
  assert.match(init2.seal, new RegExp(`^${v1.keyId}:`));
  assert.equal(status(verifySealed(path, { keys: [v1, v2] })), 'ok/ok/ok');
  // With the old key alone, the rows after the re-init could be anyone's (whoever can run
  // lsm can re-init): they fail, naming the key to give.
  const onlyOld = verifySealed(path, { keys: [v1] });
  assert.equal(status(onlyOld), 'ok/fail/ok');
  assert.deepEqual(onlyOld.verdicts.seals.findings.map((f) => [f.kind, f.seq]), [['key_taken_over', 6]]);
  assert.match(onlyOld.verdicts.seals.findings[0].message, new RegExp(`rows 6\\.\\.8 are sealed by key ${v2.keyId}, started after the range of the key given`));
  // With the new key alone, the rows before it are an older range: not checked, not failed.
  const onlyNew = verifySealed(path, { keys: [v2] });
  assert.equal(status(onlyNew), 'ok/ok/ok');
  assert.match(onlyNew.verdicts.seals.summary, new RegExp(`sealed by key ${v1.keyId}: not checked \\(give its verification key\\)`));
  // A forged re-init that the old key did not seal does not end its range.
  const ls = lines(path);
  const forged = JSON.parse(ls[v2.initSeq - 1]);
  delete forged.seal;
  ls[v2.initSeq - 1] = JSON.stringify(forged);
  writeFileSync(path, `${ls.join('\n')}\n`);
  const r = verifySealed(path, { keys: [v1], all: true });
  assert.deepEqual(r.verdicts.seals.findings.map((f) => [f.kind, f.seq, f.seqTo]), [['unsealed', 5, undefined], ['wrong_key', 6, 8]]);
});

test('a verification key of another home is named as a possible cause, beside a replaced log', () => {
  const path = logFile();
  sealInit(path, Buffer.alloc(32, 1));
  gets(path, 2);
  const elsewhere = sealInit(logFile(), Buffer.alloc(32, 9));
  const r = verifySealed(path, { keys: [elsewhere] });
  assert.equal(r.verdicts.seals.status, 'fail');
  assert.match(r.verdicts.seals.findings[0].message, /the key is another home's, or the log was replaced or rewritten/);
});

test('rows out of order are still each checked against the key of their own seq', () => {
  const path = logFile();
  const vk = sealInit(path);
  gets(path, 1);
  // 5000 sealed rows written here rather than appended (no fsync each): more than one key mark apart.
  const row = toRow(JSON.parse(lines(path)[1]));
  let key = evolve(vk.root);
  const out: string[] = [];
  for (let seq = 3; seq <= 5000; seq++) {
    key = evolve(key);
    row.seq = seq;
    row.prev = row.hash;
    row.hash = computeHash(row);
    row.seal = `${vk.keyId}:${macOf(key, seq, row.hash)}`;
    out.push(`${encodeLine(row)}\n`);
  }
  appendFileSync(path, out.join(''));
  const whole = verifySealed(path, { keys: [vk] });
  assert.equal(status(whole), 'ok/ok/ok');
  assert.match(whole.verdicts.completeness.summary, /the log ends at seq 5000, 4998 rows past the seal key file's index: rows were added by something that does not seal/);
  const ls = lines(path);
  [ls[4500], ls[10]] = [ls[10], ls[4500]];
  writeFileSync(path, `${ls.join('\n')}\n`);
  const r = verifySealed(path, { keys: [vk], all: true });
  assert.equal(r.verdicts.integrity.status, 'fail');
  assert.equal(r.verdicts.seals.status, 'ok');
});

test('anchors: the documented line, a collector file-exporter line and a logcli jsonl line', () => {
  const dir = tempDir();
  const h = (c: string) => c.repeat(64);
  const otlp = {
    resourceLogs: [{
      resource: { attributes: [{ key: 'host.name', value: { stringValue: 'box' } }] },
      scopeLogs: [{ logRecords: [
        { attributes: [{ key: 'lsm.kind', value: { stringValue: 'event' } }, { key: 'lsm.seq', value: { intValue: '3' } }] },
        { attributes: [{ key: 'lsm.kind', value: { stringValue: 'checkpoint' } }, { key: 'lsm.seq', value: { intValue: '4' } }, { key: 'lsm.chain.head', value: { stringValue: h('b') } }] },
      ] }],
    }],
  };
  const file = join(dir, 'a.jsonl');
  writeFileSync(file, [
    JSON.stringify({ host: 'box', seq: 2, hash: h('a') }),
    JSON.stringify(otlp),
    JSON.stringify({ labels: {}, line: JSON.stringify({ host: 'box', seq: '9', hash: h('c') }) }),
    '',
    JSON.stringify({ host: 'box', seq: 9, hash: h('d') }),
    JSON.stringify({ host: 'other', seq: 1, hash: h('e') }),
  ].join('\n'));
  assert.throws(() => readAnchors(file), /several hosts \(box, other\)/);
  const a = readAnchors(file, 'box');
  assert.deepEqual([...a.bySeq], [[2, h('a')], [4, h('b')], [9, h('c')]]);
  assert.deepEqual([...a.conflicts], [[9, [h('c'), h('d')]]]);
  assert.deepEqual([a.minSeq, a.maxSeq], [2, 9]);
  writeFileSync(file, '{"host":"box","seq":0,"hash":"x"}\n');
  assert.throws(() => readAnchors(file), /a\.jsonl:1: not a checkpoint/);
});

test('anchors against the log: a different head, a missing seq, and two heads for one seq', () => {
  const path = logFile();
  gets(path, 6);
  const rows = lines(path).map((l) => JSON.parse(l));
  const file = join(tempDir(), 'anchors.jsonl');
  const put = (list: Array<[number, string]>) => writeFileSync(file, list.map(([seq, hash]) => JSON.stringify({ host: 'h', seq, hash })).join('\n'));
  put([[2, rows[1].hash], [6, rows[5].hash]]);
  let r = verifySealed(path, { anchors: readAnchors(file) });
  assert.equal(status(r), 'ok/unchecked/ok');
  assert.match(r.verdicts.completeness.summary, /anchored up to seq 6 by 2 checkpoints of host h/);
  put([[2, rows[1].hash], [4, 'f'.repeat(64)], [9, 'e'.repeat(64)], [2, 'd'.repeat(64)]]);
  r = verifySealed(path, { anchors: readAnchors(file), all: true });
  assert.deepEqual(r.verdicts.integrity.findings.map((f) => [f.kind, f.seq]), [['anchor_mismatch', 4], ['anchor_conflict', 2]]);
  assert.deepEqual(r.verdicts.completeness.findings.map((f) => [f.kind, f.seq]), [['anchor_missing', 9]]);
});

test('without a key or anchors verify says what it could not check', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'K', 'v'], { home });
  const plain = lsm(['audit', 'verify', '--format', 'text'], { home });
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /^OK: chain valid \(events=2\)\n$/);
  assert.match(plain.stderr, /only the hash chain was checked/);
  lsm(['audit', 'seal', 'init'], { home });
  lsm(['get', 'app', 'dev', 'K'], { home });
  const r = lsm(['audit', 'verify', '--format', 'text'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split('\n'), [
    'OK: chain valid (events=5)',
    'integrity: OK (events=5, hash chain intact from genesis; alone this cannot show a rewrite that recomputed every hash)',
    'seals: not checked (no --verification-key): seq 5..5 sealed by key ' + readKeyFile(join(home, 'audit.seal'))!.keyId + '; seq 1..4 before sealing began',
    'completeness: OK (the log ends at seq 5, where the seal key file\'s index says it should)',
  ]);
});

test('seal init prints the key once, refuses a second time without --force, and seal status reports', () => {
  const home = initHome();
  const first = lsm(['audit', 'seal', 'init', '--format', 'text'], { home });
  assert.equal(first.code, 0, first.stderr);
  const vk = /lsmvk1-\S+/.exec(first.stdout)![0];
  assert.equal(first.stdout.split(vk).length, 2, 'printed exactly once');
  assert.match(first.stdout, /Keep it off this machine/);
  const again = lsm(['audit', 'seal', 'init'], { home });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /sealing is already on \(key [0-9a-f]{16}, next seq 3\)/);
  const forced = JSON.parse(lsm(['audit', 'seal', 'init', '--force', '--format', 'json'], { home }).stdout);
  assert.equal(forced.init_seq, 3);
  const st = JSON.parse(lsm(['audit', 'seal', 'status', '--format', 'json'], { home }).stdout);
  assert.deepEqual([st.state, st.key_id, st.next_seq, st.last_seq], ['on', forced.key_id, 4, 3]);
  const keyFile = join(tempDir(), 'saved-output.txt');
  writeFileSync(keyFile, first.stdout);
  const v = lsm(['audit', 'verify', '--format', 'json', '--verification-key', keyFile, '--verification-key', '-'], { home, input: forced.verification_key });
  assert.equal(v.code, 0, v.stderr);
  assert.equal(JSON.parse(v.stdout).verdicts.seals.status, 'ok');
  const bad = lsm(['audit', 'verify', '--verification-key', vk.replace(/.$/, (c) => (c === '0' ? '1' : '0'))], { home });
  assert.equal(bad.code, 2);
  // From stdin as from the command line: any case, spaces between the groups, text around it.
  const [, head, body] = /^(lsmvk1-\d+-)(.*)$/.exec(forced.verification_key)!;
  const spaced = `note: ${head.toUpperCase()}${body.toUpperCase().replace(/-/g, ' ')} (paper copy)\n`;
  const fromStdin = lsm(['audit', 'verify', '--format', 'json', '--verification-key', keyFile, '--verification-key', '-'], { home, input: spaced });
  assert.equal(fromStdin.code, 0, `${spaced}: ${fromStdin.stderr}`);
  // A device or a directory where the key file goes: a usage error, not a crash reading for ever.
  // A deleted key file is "lost", not "off", while the log's tail shows sealing; exit 1.
  const copy = join(tempDir(), 'h');
  cpSync(home, copy, { recursive: true });
  rmSync(join(copy, 'audit.seal'));
  for (let i = 0; i < 2; i++) {
    const lost = lsm(['audit', 'seal', 'status', '--format', 'json'], { home: copy });
    assert.equal(lost.code, 1, lost.stderr);
    assert.equal(JSON.parse(lost.stdout).state, 'lost');
    lsm(['list', 'app', 'dev'], { home: copy }); // records audit.seal.lost, then an unsealed row
  }
  for (const path of ['/dev/zero', tempDir()]) {
    const r = lsm(['audit', 'verify', '--verification-key', path], { home, timeout: 20_000 });
    assert.equal(r.code, 2, `${path}: ${r.stderr}`);
    assert.match(r.stderr, /^lsm: --verification-key: /);
  }
});

test('an unsealed log stays unsealed; a lost key is recorded once, and sealing does not resume by itself', () => {
  const path = logFile();
  gets(path, 2);
  assert.equal(lines(path).some((l) => l.includes('"seal"')), false);
  sealInit(path);
  gets(path, 1);
  truncateSync(sealKeyPath(path), 0);
  gets(path, 2);
  const events = lines(path).map((l) => JSON.parse(l).event);
  assert.deepEqual(events.slice(3), ['get', 'audit.seal.lost', 'get', 'get']);
  assert.equal(JSON.parse(lines(path)[4]).fields.reason, 'unreadable');
  const r = verifySealed(path, {});
  assert.deepEqual(r.verdicts.seals.findings.map((f) => f.kind), ['key_lost']);
  assert.deepEqual(r.verdicts.completeness.findings.map((f) => f.kind), ['key_file_unreadable']);
});
