import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import YAML from 'yaml';
import { parseMini } from '../src/miniyaml.js';

// The fast reader must agree with the full library on everything it accepts, and
// decline (undefined) rather than guess on anything else.
const agree = (text: string) => {
  const mini = parseMini(text);
  if (mini === undefined) return;
  assert.deepEqual(mini, YAML.parse(text) ?? {}, `disagreement on:\n${text}`);
};

test('reads the config files lsm and the original write', () => {
  const go = 'env: dev\napps:\n    myapp: /Users/you/Web/myapp\n    other: /tmp/x y\ngithub:\n    myapp:\n        repo: acme/widget\n        target: actions\n        last_pushed: "2026-06-20T10:00:00Z"\n        last_count: 3\n';
  assert.deepEqual(parseMini(go), YAML.parse(go));
  const ours = '# lsm configuration\nenv: dev # default\n\n# audit:\n#   on_failure: closed\napps:\n  a: /p/a\n';
  assert.deepEqual(parseMini(ours), { env: 'dev', apps: { a: '/p/a' } });
  assert.deepEqual(parseMini(''), {});
  assert.deepEqual(parseMini('apps:\nenv: x\n'), { apps: null, env: 'x' });
});

test('declines what it does not fully understand', () => {
  for (const text of ['a: [1, 2]\n', 'a:\n  - x\n', 'a: &x 1\n', 'a: |\n  x\n', "a: 'x\n", 'a: b: c\n', 'a:\tb\n', '---\na: 1\n', 'a: 1\na: 2\n', 'a: 0x1F\n', 'a: .inf\n', 'a: 007\n', 'a: "\\u0041"\n', 'a: {b: 1}\n']) {
    assert.equal(parseMini(text), undefined, text);
  }
});

test('quoted scalars and comments match the yaml library', () => {
  for (const text of ["a: 'it''s # not a comment'\n", 'a: "say \\"hi\\" # x" # c\n', 'a: x#y\n', "'k 1': v\n", 'a: -5\nb: true\nc: ~\nd: x007\n', 'timeout: 10s\nv: 1.2.3\nf: 1.5\ng: -2e3\nh: .5\n']) {
    agree(text);
    assert.notEqual(parseMini(text), undefined, text);
  }
});

test('property: agrees with the yaml library on generated block mappings', () => {
  const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
  const scalarText = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9/_.:@ -]{0,12}$/),
    fc.string({ maxLength: 10 }).map((s) => `'${s.replace(/'/g, "''").replace(/[\n\r\t]/g, ' ')}'`),
    fc.string({ maxLength: 10 }).map((s) => JSON.stringify(s.replace(/[\u0000-\u001f\u007f-\uffff]/g, 'x'))),
    fc.constantFrom('true', 'false', '~', 'null', '42', '-7', '0'),
    fc.stringMatching(/^[-+]?[0-9]{0,3}(\.[0-9]{0,3})?([eE][-+]?[0-9]{1,2})?[smh]?$/).filter((t) => t !== ''),
  );
  const tree: fc.Memo<string[]> = fc.memo((depth: number) =>
    fc.array(
      fc.tuple(key, depth > 1 ? fc.oneof(scalarText, tree(depth - 1)) : scalarText),
      { maxLength: 4 },
    ).map((pairs) => {
      const seen = new Set<string>();
      const lines: string[] = [];
      for (const [k, v] of pairs) {
        if (seen.has(k)) continue;
        seen.add(k);
        if (Array.isArray(v)) {
          lines.push(`${k}:`);
          for (const l of v) lines.push(`  ${l}`);
        } else lines.push(`${k}: ${v}`);
      }
      return lines;
    }),
  );
  fc.assert(fc.property(tree(3), fc.boolean(), (lines, comment) => {
    const text = lines.map((l, i) => (comment && i % 2 ? `${l} # note` : l)).join('\n') + '\n';
    agree(text);
  }), { numRuns: 500 });
});
