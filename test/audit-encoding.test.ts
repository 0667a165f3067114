import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { goNumber, goString, goValue } from '../src/audit/gojson.js';
import { encodeLine, encodeRow, formatTs, shapeProblem, toRow } from '../src/audit/event.js';
import { GENESIS, computeHash, hashRow } from '../src/audit/chain.js';
import { VECTOR_1, VECTOR_2, ACTOR } from './audit-fixtures.js';

test('the two rows of the original re-encode and hash byte for byte', () => {
  let prev = GENESIS;
  for (const line of [VECTOR_1, VECTOR_2]) {
    const obj = JSON.parse(line);
    assert.equal(shapeProblem(obj), undefined);
    const row = toRow(obj);
    assert.equal(row.prev, prev);
    assert.equal(encodeRow(row, row.hash), line);
    assert.equal(computeHash(row), row.hash);
    prev = row.hash;
  }
});

test('strings are escaped as Go escapes them', () => {
  assert.equal(goString('a<b>&c'), '"a\\u003cb\\u003e\\u0026c"');
  assert.equal(goString('\u2028\u2029'), '"\\u2028\\u2029"');
  assert.equal(goString('q"b\\'), '"q\\"b\\\\"');
  assert.equal(goString('\n\r\t\b\f\u0001\u001f'), '"\\n\\r\\t\\b\\f\\u0001\\u001f"');
  assert.equal(goString('\b\f', { legacyControl: true }), '"\\u0008\\u000c"');
  assert.equal(goString('\u007f é 😀'), '"\u007f é 😀"');
  // Unpaired surrogates are what invalid UTF-8 becomes: Go writes U+FFFD.
  assert.equal(goString('x\ud800y\udc00'), '"x\ufffdy\ufffd"');
});

test('numbers follow ES6 formatting, keeping -0', () => {
  assert.equal(goNumber(2), '2');
  assert.equal(goNumber(1.5), '1.5');
  assert.equal(goNumber(1e21), '1e+21');
  assert.equal(goNumber(1e-7), '1e-7');
  assert.equal(goNumber(-0), '-0');
  assert.throws(() => goNumber(Number.NaN));
});

test('map keys are sorted by UTF-8 bytes, not UTF-16 units', () => {
  // U+FF61 sorts before U+1F600 in UTF-8 but after its surrogates in UTF-16.
  assert.equal(goValue({ '😀': 1, '｡': 2, b: 3, a: { d: 1, c: 2 } }), '{"a":{"c":2,"d":1},"b":3,"｡":2,"😀":1}');
  assert.equal(goValue([null, true, 'x', [1]]), '[null,true,"x",[1]]');
});

test('for any JSON value, the encoding survives a parse round trip', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const once = goValue(v);
      assert.equal(goValue(JSON.parse(once)), once);
    }),
    { numRuns: 500 },
  );
});

test('for ASCII without < > &, the encoding is JSON.stringify with sorted keys', () => {
  const text = fc.string({ unit: fc.constantFrom(...'abcXYZ_09 -'.split('')) });
  // Integer-like keys would be reordered by the JS object itself, not by the encoder.
  const key = text.map((s) => `k${s}`);
  fc.assert(
    fc.property(fc.dictionary(key, fc.oneof(fc.integer(), fc.boolean(), text)), (d) => {
      const sorted = Object.fromEntries(Object.keys(d).sort().map((k) => [k, d[k]]));
      assert.equal(goValue(d), JSON.stringify(sorted));
    }),
  );
});

test('ts is RFC 3339 UTC with the fraction trimmed as Go does', () => {
  assert.equal(formatTs(new Date('2026-05-14T12:00:00.000Z')), '2026-05-14T12:00:00Z');
  assert.equal(formatTs(new Date('2026-05-14T12:00:01.120Z')), '2026-05-14T12:00:01.12Z');
  assert.equal(formatTs(new Date('2026-05-14T12:00:10.100Z')), '2026-05-14T12:00:10.1Z');
});

test('ts built from the UTC fields is toISOString trimmed, for every representable time', () => {
  const trimmed = (d: Date) => d.toISOString().replace(/\.?0*Z$/, 'Z');
  const max = 8.64e15;
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: -max, max }), fc.integer({ min: -62167219200000, max: 253402300799999 })), (ms) => {
      const d = new Date(ms);
      assert.equal(formatTs(d), trimmed(d));
    }),
    { numRuns: 5000 },
  );
  for (const iso of ['0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', '-000001-12-31T23:59:59.000Z', '+010000-01-01T00:00:00.500Z']) {
    assert.equal(formatTs(new Date(iso)), trimmed(new Date(iso)));
  }
});

test('schema 2 rows encode in the documented order and omit empty optionals', () => {
  const row = {
    schema_version: 2, seq: 3, ts: '2026-05-14T12:00:00Z', event: 'get', app: 'a', env: 'dev', outcome: 'ok' as const,
    actor: { ...ACTOR, agent_session: '', agent_vars: [] }, fields: { key: 'K' }, prev: GENESIS, hash: '',
  };
  const line = hashRow(row);
  const keys = Object.keys(JSON.parse(line));
  assert.deepEqual(keys, ['schema_version', 'seq', 'ts', 'event', 'app', 'env', 'outcome', 'actor', 'fields', 'prev', 'hash']);
  assert.deepEqual(Object.keys(JSON.parse(line).actor), [
    'ppid', 'parent_comm', 'tty', 'cwd', 'agent_marker', 'uid', 'pid', 'agent_source', 'ancestry',
  ]);
  assert.equal(computeHash(toRow(JSON.parse(line))), row.hash);
});

test('a seal after the hash is kept in the line and left out of the hash', () => {
  const row = toRow(JSON.parse(VECTOR_1));
  row.seal = 'mac-1';
  const line = encodeLine(row);
  assert.ok(line.endsWith(`"hash":"${row.hash}","seal":"mac-1"}`));
  const back = JSON.parse(line);
  assert.equal(shapeProblem(back), undefined);
  assert.equal(computeHash(toRow(back)), row.hash);
});

test('fields that the hash does not cover are a shape problem', () => {
  const obj = JSON.parse(VECTOR_1);
  assert.match(shapeProblem({ ...obj, extra: 1 }) ?? '', /unknown field "extra"/);
  assert.match(shapeProblem({ ...obj, actor: { ...obj.actor, pid: 5 } }) ?? '', /unknown field "actor.pid"/);
  assert.match(shapeProblem({ ...obj, seq: '1' }) ?? '', /seq is a string/);
  assert.match(shapeProblem({ ...obj, outcome: 'ok' }) ?? '', /unknown field "outcome"/);
});
