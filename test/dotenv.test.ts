import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import dotenv from 'dotenv';
import { EnvDocument, parseEnv, serializeEnv } from '../src/dotenv.js';
import { LsmError } from '../src/errors.js';

const values = (text: string): Record<string, string> => Object.fromEntries(parseEnv(text, 't.env').entries());

/** Asserts that parsing fails with exactly `<file>:<line>: <reason>`, so no input text leaks into it. */
function assertParseError(text: string, line: number, reason: string): void {
  assert.throws(() => parseEnv(text, 'f.env'), (err: unknown) => {
    assert.ok(err instanceof LsmError);
    assert.equal(err.code, 'parse');
    assert.equal(err.message, `f.env:${line}: ${reason}`);
    return true;
  });
}

describe('reading', () => {
  test('KEY=value, export, indentation and spaces around =', () => {
    assert.deepEqual(values('A=1\nexport B=2\nexport \t C=3\n  D=4\n\tE = 5\nF\t=\t6\nexport=7\nexport =8\n'), {
      A: '1', B: '2', C: '3', D: '4', E: '5', F: '6', export: '8',
    });
  });

  test('unquoted values: trimmed, = kept, # starts a comment only after whitespace', () => {
    assert.deepEqual(values('A=  a b  \nB=x=y==\nC=a#b\nD=#fff\nE=v # note\nF=v\t#note\nG= # only a comment\nH=a #b #c\n'), {
      A: 'a b', B: 'x=y==', C: 'a#b', D: '#fff', E: 'v', F: 'v', G: '', H: 'a',
    });
  });

  test('single and backtick quotes are literal and may span lines', () => {
    assert.deepEqual(values("A='a \\n \"b\" # $HOME \\\\'\nB='two\nlines'\nC=`it's \"x\"`\nD=''\n"), {
      A: 'a \\n "b" # $HOME \\\\', B: 'two\nlines', C: `it's "x"`, D: '',
    });
  });

  test('double quotes: \\n \\r \\" \\\\ escapes, other backslashes kept, real newlines', () => {
    assert.deepEqual(values('A="l1\\nl2\\r\\"q\\" \\\\ \\t \\$x C:\\Users"\nB="multi\nline # not a comment"\nC=""\nD="x\\\\"\n'), {
      A: 'l1\nl2\r"q" \\ \\t \\$x C:\\Users', B: 'multi\nline # not a comment', C: '', D: 'x\\',
    });
  });

  test('comments after quoted values, with or without a space', () => {
    assert.deepEqual(values('A="x" # c\nB=\'y\'#c\nC=`z`\t# c\n'), { A: 'x', B: 'y', C: 'z' });
  });

  test('blank lines, comment lines and a byte order mark are not entries', () => {
    const doc = parseEnv('\ufeff# top\n\n   \n\t# indented\nA=1\n#B=2\n');
    assert.deepEqual(doc.entries(), [['A', '1']]);
  });

  test('CRLF: line endings are not part of values, inside quotes they read as \\n; a lone CR is a character', () => {
    assert.deepEqual(values('A=1\r\nB="x\r\ny"\r\nC=\'p\r\nq\'\r\nD=v # c\r\nE=\r\nF=a\rb\r\n'), {
      A: '1', B: 'x\ny', C: 'p\nq', D: 'v', E: '', F: 'a\rb',
    });
  });

  test('duplicate keys: the last one wins and gives the key its place', () => {
    const doc = parseEnv('A=1\nB=2\nA=3\n');
    assert.equal(doc.get('A'), '3');
    assert.deepEqual(doc.keys(), ['B', 'A']);
    assert.equal(doc.size, 2);
    assert.deepEqual([...doc.toMap()], [['B', '2'], ['A', '3']]);
  });

  test('get/has of a missing key', () => {
    const doc = parseEnv('A=1\n');
    assert.equal(doc.get('B'), undefined);
    assert.equal(doc.has('B'), false);
    assert.equal(doc.has('A'), true);
  });
});

describe('errors name the file and line, never the text', () => {
  const cases: [string, number, string][] = [
    ['A=1\nJUSTAWORD\n', 2, 'expected KEY=value'],
    ['A=1\nKEY: value\n', 2, 'expected KEY=value'],
    ['export FOO\n', 1, 'expected KEY=value'],
    ['A=1\r\n\r\nmy-key=secret\r\n', 3, 'invalid key name'],
    ['my.key=1\n', 1, 'invalid key name'],
    ['1A=secret\n', 1, 'invalid key name'],
    ['=secret\n', 1, 'invalid key name'],
    ['A B=secret\n', 1, 'invalid key name'],
    ['A=1\nB="secret\nC=2\n', 2, 'unterminated double-quoted value'],
    ["B='secret\n", 1, 'unterminated single-quoted value'],
    ['B=`secret', 1, 'unterminated backtick-quoted value'],
    ['A="secret" tail\n', 1, 'unexpected text after closing quote'],
    ["A='it\\'s'\n", 1, 'unexpected text after closing quote'],
    ['A="multi\nline"x\n', 2, 'unexpected text after closing quote'],
    ['A="x\\"\n', 1, 'unterminated double-quoted value'],
    ['A=1\n  B="s\n\n\n', 2, 'unterminated double-quoted value'],
  ];
  for (const [text, line, reason] of cases) {
    test(`${JSON.stringify(text)} → line ${line}: ${reason}`, () => assertParseError(text, line, reason));
  }

  test('the source defaults to <input>', () => {
    assert.throws(() => parseEnv('nope\n'), { message: '<input>:1: expected KEY=value' });
  });
});

describe('lossless round trip and editing', () => {
  const original = [
    '# Header comment\r\n',
    '\r\n',
    'export API_KEY = "old" # rotated monthly\r\n',
    "  PEM='-----BEGIN-----\r\nabc\r\n-----END-----'\r\n",
    'URL=https://x.example/a#b # comment\r\n',
    'EMPTY= # fill me\r\n',
    '# trailer',
  ].join('');

  test('serialize reproduces the text byte for byte', () => {
    assert.equal(parseEnv(original).serialize(), original);
  });

  test('set on an existing key rewrites only its value, keeping export, spacing and comment', () => {
    const doc = parseEnv(original);
    assert.equal(doc.set('API_KEY', 'new value'), 'changed');
    assert.equal(doc.set('PEM', 'one\nline'), 'changed');
    assert.equal(doc.set('EMPTY', 'filled'), 'changed');
    assert.equal(doc.serialize(), [
      '# Header comment\r\n',
      '\r\n',
      "export API_KEY = 'new value' # rotated monthly\r\n",
      '  PEM="one\\nline"\r\n',
      'URL=https://x.example/a#b # comment\r\n',
      'EMPTY=filled # fill me\r\n',
      '# trailer',
    ].join(''));
    assert.deepEqual(doc.keys(), ['API_KEY', 'PEM', 'URL', 'EMPTY']);
  });

  test('an equal value is unchanged and leaves the text alone', () => {
    const doc = parseEnv(original);
    assert.equal(doc.set('API_KEY', 'old'), 'unchanged');
    assert.equal(doc.serialize(), original);
  });

  test('new keys are appended, after completing a last line without newline, in the file\'s line ending', () => {
    const doc = parseEnv(original);
    assert.equal(doc.set('NEW', 'v'), 'added');
    assert.equal(doc.set('NEW2', ''), 'added');
    assert.equal(doc.serialize(), `${original}\r\nNEW=v\r\nNEW2=\r\n`);
    const empty = new EnvDocument();
    empty.set('A', '1');
    assert.equal(empty.serialize(), 'A=1\n');
  });

  test('a bare value never swallows a comment glued to a closing quote', () => {
    const doc = parseEnv('A="x"#note\n');
    doc.set('A', 'y');
    assert.equal(doc.serialize(), 'A=y #note\n');
    assert.equal(parseEnv(doc.serialize()).get('A'), 'y');
  });

  test('set on a duplicated key keeps the last place and drops the shadowed copies', () => {
    const doc = parseEnv('A=old1\nB=2\nA=old2\nC=3\n');
    assert.equal(doc.set('A', 'new'), 'changed');
    assert.equal(doc.serialize(), 'B=2\nA=new\nC=3\n');
  });

  test('delete removes every occurrence, keeps comments, and reports absence', () => {
    const doc = parseEnv('# about A\nA=1\nB=2\nA=3');
    assert.equal(doc.delete('A'), true);
    assert.equal(doc.serialize(), '# about A\nB=2\n');
    assert.equal(doc.delete('A'), false);
  });

  test('set refuses a key that is not an environment variable name', () => {
    for (const bad of ['', '1A', 'A-B', 'A B', 'A=B', 'é']) {
      assert.throws(() => new EnvDocument().set(bad, 'v'), { code: 'invalid_name' });
    }
  });

  test('quoting on write: bare when safe, single quotes when possible, else double quotes', () => {
    const cases: [string, string][] = [
      ['', 'K='],
      ['plain-value_1.2', 'K=plain-value_1.2'],
      ['postgres://u:p@h:5432/db', 'K=postgres://u:p@h:5432/db'],
      ['base64+/==', 'K=base64+/=='],
      ['with space', "K='with space'"],
      ['a#b', "K='a#b'"],
      ['$HOME', "K='$HOME'"],
      ['~/x', "K='~/x'"],
      [' lead', "K=' lead'"],
      ['say "hi"', `K='say "hi"'`],
      ['back\\slash', "K='back\\slash'"],
      ['tab\there', "K='tab\there'"],
      ['café', "K='café'"],
      ["it's", `K="it's"`],
      ['l1\nl2', 'K="l1\\nl2"'],
      ['cr\r', 'K="cr\\r"'],
      ['q"\\\n\'', 'K="q\\"\\\\\\n\'"'],
    ];
    for (const [value, line] of cases) {
      assert.equal(serializeEnv([['K', value]]), `${line}\n`, JSON.stringify(value));
      assert.equal(parseEnv(serializeEnv([['K', value]])).get('K'), value);
    }
  });

  test('parsing a large store is linear', () => {
    const big = serializeEnv(Array.from({ length: 20_000 }, (_, i) => [`KEY_${i}`, `value ${i} # x\n"q"`] as const));
    const t0 = performance.now();
    const doc = parseEnv(big);
    assert.equal(doc.get('KEY_19999'), 'value 19999 # x\n"q"');
    assert.ok(performance.now() - t0 < 1000);
    // Pathological lines: no backtracking anywhere.
    const t1 = performance.now();
    parseEnv(`A=${'a \t'.repeat(200_000)}#\nB="${'\\"'.repeat(200_000)}"\n`);
    assert.throws(() => parseEnv(`A="${'\\'.repeat(400_001)}`));
    assert.ok(performance.now() - t1 < 1000);
  });
});

// ---------------------------------------------------------------------------
// Properties

const keyArb = fc.oneof(
  { weight: 9, arbitrary: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/) },
  { weight: 1, arbitrary: fc.constantFrom('export', '__proto__', 'constructor', 'A', '_') },
);
const TRICKY = ['#', '=', "'", '"', '`', '\\', '\\n', ' ', '\t', '\n', '\r', '\r\n', '$', '${X}', '\0', '\x1b', '\x7f', '\u2028', '\ufeff', '\u00a0', 'é', '😀', 'a', 'export '];
const valueArb = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 12 }),
  // Any UTF-16 code unit, lone surrogates included.
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
);
const entriesArb = fc.uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([k]) => k, maxLength: 12 });

/** A text from the grammar of valid lines, with the values it must parse to. */
const BLANK = fc.constantFrom('', ' ', '\t', ' \t ');
const EOL = fc.constantFrom('\n', '\r\n');
const noNewline = fc.string({ unit: fc.constantFrom('a', ' ', '#', '"', "'", '\\', '=', '\r', 'é', '\t'), maxLength: 8 });
const lineArb: fc.Arbitrary<{ text: string; entry?: [string, string] }> = fc.oneof(
  BLANK.map((text) => ({ text })),
  fc.tuple(BLANK, noNewline).map(([ws, c]) => ({ text: `${ws}#${c}` })),
  fc.record({
    indent: BLANK,
    exported: fc.option(fc.constantFrom(' ', '\t', '  '), { nil: undefined }),
    key: keyArb,
    before: BLANK,
    after: BLANK,
    value: fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 10 }),
    style: fc.constantFrom('bare', 'single', 'backtick', 'double', 'double-raw'),
    comment: fc.option(fc.tuple(fc.constantFrom(' ', '\t', '  '), noNewline), { nil: undefined }),
  }).map(({ indent, exported, key, before, after, value, style, comment }) => {
    let v = value;
    let enc: string;
    if (style === 'bare') {
      // Make the value expressible bare: one line, no edge blanks, no quote first, no blank before #
      // (nor a leading # after a blank).
      v = v.replace(/[\r\n]/g, '').replace(/[ \t]+#/g, '#').replace(/[ \t]+$/, '');
      v = v.replace(after === '' ? /^[ \t'"`]+/ : /^[ \t'"`#]+/, '');
      enc = v;
    } else if (style === 'single' || style === 'backtick') {
      const q = style === 'single' ? "'" : '`';
      v = v.replaceAll(q, '');
      enc = `${q}${v}${q}`;
      v = v.replaceAll('\r\n', '\n');
    } else {
      const raw = style === 'double-raw';
      enc = `"${v.replace(/[\\"\n\r]/g, (c) => (c === '\n' ? (raw ? '\n' : '\\n') : c === '\r' ? '\\r' : `\\${c}`))}"`;
    }
    const tail = comment === undefined ? '' : `${comment[0]}#${comment[1]}`;
    const prefix = exported === undefined ? '' : `export${exported}`;
    return { text: `${indent}${prefix}${key}${before}=${after}${enc}${tail}`, entry: [key, v] as [string, string] };
  }),
);
const documentArb = fc.tuple(fc.array(fc.tuple(lineArb, EOL), { maxLength: 15 }), fc.boolean(), fc.boolean()).map(([lines, finalEol, bom]) => {
  let text = bom ? '\ufeff' : '';
  const expected = new Map<string, string>();
  lines.forEach(([line, eol], i) => {
    text += line.text + (i < lines.length - 1 || finalEol ? eol : '');
    if (line.entry) {
      expected.delete(line.entry[0]);
      expected.set(...line.entry);
    }
  });
  return { text, expected };
});

describe('properties', () => {
  test('parse(serialize(map)) gives back the map, one line per entry', () => {
    fc.assert(fc.property(entriesArb, (entries) => {
      const text = serializeEnv(entries);
      assert.deepEqual(parseEnv(text).entries(), entries);
      assert.equal(text.split('\n').length - 1, entries.length);
    }), { numRuns: 2000 });
  });

  test('texts of valid lines round-trip byte for byte and give the expected values', () => {
    fc.assert(fc.property(documentArb, ({ text, expected }) => {
      const doc = parseEnv(text);
      assert.equal(doc.serialize(), text);
      assert.deepEqual(doc.entries(), [...expected]);
    }), { numRuns: 2000 });
  });

  test('random set/delete sequences behave like a Map and survive serialize → parse', () => {
    const op = fc.oneof(
      fc.tuple(fc.constant('set' as const), fc.constantFrom('A', 'B', 'C', 'export', 'D_1'), valueArb),
      fc.tuple(fc.constant('delete' as const), fc.constantFrom('A', 'B', 'C', 'export', 'D_1'), fc.constant('')),
    );
    const startArb = fc.oneof(
      documentArb.map((d) => d.text),
      fc.constantFrom('', '# only a comment', 'A=1\nB=2\nA=3', 'export A="x" # c\r\nC=\'y\'\r\n'),
    );
    fc.assert(fc.property(startArb, fc.array(op, { maxLength: 20 }), (start, ops) => {
      const doc = parseEnv(start);
      const model = doc.toMap();
      for (const [kind, key, value] of ops) {
        if (kind === 'set') {
          const expected = !model.has(key) ? 'added' : model.get(key) === value ? 'unchanged' : 'changed';
          assert.equal(doc.set(key, value), expected);
          model.set(key, value);
        } else {
          assert.equal(doc.delete(key), model.delete(key));
        }
        assert.deepEqual(doc.entries(), [...model]);
      }
      const again = parseEnv(doc.serialize());
      assert.deepEqual(again.entries(), [...model]);
      assert.equal(again.serialize(), doc.serialize());
    }), { numRuns: 1000 });
  });

  test('any text either round-trips exactly or fails with a bare line-numbered reason', () => {
    const junk = fc.string({ unit: fc.constantFrom('A', 'b', '_', '1', '=', ' ', '\t', '#', '"', "'", '`', '\\', '\n', '\r', 'export ', '-', ':', '\ufeff'), maxLength: 40 });
    const reasons = /^s\.env:\d+: (expected KEY=value|invalid key name|unterminated (double|single|backtick)-quoted value|unexpected text after closing quote)$/;
    fc.assert(fc.property(junk, (text) => {
      let doc: EnvDocument;
      try {
        doc = parseEnv(text, 's.env');
      } catch (err) {
        assert.ok(err instanceof LsmError && err.code === 'parse');
        assert.match(err.message, reasons);
        return;
      }
      assert.equal(doc.serialize(), text);
    }), { numRuns: 5000 });
  });

  test('dotenv reads what lsm writes, for values without backslash or double quote (which dotenv does not unescape)', () => {
    const plain = fc.string({ unit: 'binary' }).filter((v) => !/[\\"]/.test(v));
    const arb = fc.uniqueArray(fc.tuple(keyArb.filter((k) => k !== '__proto__'), plain), { selector: ([k]) => k, maxLength: 8 });
    fc.assert(fc.property(arb, (entries) => {
      assert.deepEqual(dotenv.parse(serializeEnv(entries)), Object.fromEntries(entries));
    }), { numRuns: 2000 });
  });
});

// ---------------------------------------------------------------------------
// Differential test against dotenv. Every deliberate difference is listed here and in
// docs/dotenv.md; anything else must match dotenv.parse exactly.

const FIXTURES = join(import.meta.dirname, 'fixtures', 'env');

const CORPUS_DIFFERENCES: { file: string; key: string; ours: string; dotenv: string }[] = [
  // An unquoted # is a comment only after whitespace (as in a shell); dotenv cuts at any #.
  { file: 'urls-with-hash.env', key: 'DOCS_URL', ours: 'https://docs.example.com/guide#installation', dotenv: 'https://docs.example.com/guide' },
  { file: 'urls-with-hash.env', key: 'BRAND_COLOR', ours: '#1e90ff', dotenv: '' },
  { file: 'urls-with-hash.env', key: 'DB_PASSWORD', ours: 'abc#123=xyz', dotenv: 'abc' },
  { file: 'urls-with-hash.env', key: 'INLINE_AFTER_HASH_VALUE', ours: 'a#b', dotenv: 'a' },
  // Double quotes unescape \" and \\ ; dotenv keeps the backslashes (and reads \\n as \ + newline).
  { file: 'escapes.env', key: 'QUOTE_IN_DOUBLE', ours: 'say "hi"', dotenv: 'say \\"hi\\"' },
  { file: 'escapes.env', key: 'BACKSLASH_IN_DOUBLE', ours: 'C:\\Users\\dev', dotenv: 'C:\\\\Users\\\\dev' },
  { file: 'escapes.env', key: 'LITERAL_BACKSLASH_N', ours: 'regex: \\n is a newline', dotenv: 'regex: \\\n is a newline' },
];

/** Lines outside the corpus that dotenv reads differently: `ours` undefined means lsm rejects the text. */
const OTHER_DIFFERENCES: { text: string; ours?: Record<string, string>; error?: string; dotenv: Record<string, string> }[] = [
  { text: 'A=1\rB=2', ours: { A: '1\rB=2' }, dotenv: { A: '1', B: '2' } },
  { text: 'A=\u00a0x\u00a0', ours: { A: '\u00a0x\u00a0' }, dotenv: { A: 'x' } },
  { text: 'my.key=1', error: 'invalid key name', dotenv: { 'my.key': '1' } },
  { text: 'my-key=1', error: 'invalid key name', dotenv: { 'my-key': '1' } },
  { text: '1A=2', error: 'invalid key name', dotenv: { '1A': '2' } },
  { text: 'KEY: value', error: 'expected KEY=value', dotenv: { KEY: 'value' } },
  { text: 'A=1\nNOEQUALS', error: 'expected KEY=value', dotenv: { A: '1' } },
  { text: 'A="x" y', error: 'unexpected text after closing quote', dotenv: { A: '"x" y' } },
  { text: "A='it\\'s'", error: 'unexpected text after closing quote', dotenv: { A: "it\\'s" } },
  { text: 'A="abc\nB=2', error: 'unterminated double-quoted value', dotenv: { A: '"abc', B: '2' } },
];

describe('corpus: agreement with dotenv', () => {
  const files = readdirSync(FIXTURES).filter((f) => !f.startsWith('.')).sort();

  test('the corpus has at least 15 files', () => assert.ok(files.length >= 15, `${files.length} files`));

  for (const file of files) {
    test(file, () => {
      const text = readFileSync(join(FIXTURES, file), 'utf8');
      const doc = parseEnv(text, file);
      assert.equal(doc.serialize(), text, 'byte-for-byte round trip');
      const ours = doc.toMap();
      const theirs = dotenv.parse(text);
      assert.deepEqual([...ours.keys()].sort(), Object.keys(theirs).sort());
      for (const [key, value] of ours) {
        const diff = CORPUS_DIFFERENCES.find((d) => d.file === file && d.key === key);
        if (diff === undefined) {
          assert.equal(value, theirs[key], key);
        } else {
          assert.equal(value, diff.ours, `${key} (ours)`);
          assert.equal(theirs[key], diff.dotenv, `${key} (dotenv)`);
        }
      }
      // Re-writing every value from scratch must read back the same.
      assert.deepEqual(parseEnv(serializeEnv(ours)).toMap(), ours);
    });
  }

  test('every listed corpus difference names a real file and key', () => {
    for (const d of CORPUS_DIFFERENCES) assert.ok(parseEnv(readFileSync(join(FIXTURES, d.file), 'utf8')).has(d.key), `${d.file} ${d.key}`);
  });

  for (const d of OTHER_DIFFERENCES) {
    test(`difference: ${JSON.stringify(d.text)}`, () => {
      assert.deepEqual({ ...dotenv.parse(d.text) }, d.dotenv);
      if (d.error === undefined) assert.deepEqual(values(d.text), d.ours);
      else assert.throws(() => parseEnv(d.text, 'd.env'), { message: new RegExp(`^d\\.env:\\d+: ${d.error}$`) });
    });
  }
});

test('property: set, delete, get and has agree with a plain Map, duplicates in the text included', () => {
  // The document keeps an index of each key's last line: it must never go stale.
  const op = fc.oneof(
    fc.tuple(fc.constant('set' as const), fc.constantFrom('A', 'B', 'C', 'D'), fc.constantFrom('1', '2', 'x y', '')),
    fc.tuple(fc.constant('delete' as const), fc.constantFrom('A', 'B', 'C', 'D'), fc.constant('')),
  );
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('A', 'B', 'C'), fc.constantFrom('0', '9'))), fc.array(op, { maxLength: 30 }), (start, ops) => {
    const text = start.map(([k, v]) => `${k}=${v}\n# note\n`).join('');
    const doc = parseEnv(text, 't.env');
    const model = new Map<string, string>(start);
    for (const [kind, k, v] of ops) {
      if (kind === 'set') {
        const expect = !model.has(k) ? 'added' : model.get(k) === v ? 'unchanged' : 'changed';
        assert.equal(doc.set(k, v), expect);
        model.set(k, v);
      } else {
        assert.equal(doc.delete(k), model.delete(k));
      }
      for (const key of ['A', 'B', 'C', 'D']) {
        assert.equal(doc.get(key), model.get(key));
        assert.equal(doc.has(key), model.has(key));
      }
    }
    // And the text says the same once parsed again.
    assert.deepEqual(parseEnv(doc.serialize(), 't.env').toMap(), doc.toMap());
  }), { numRuns: 500 });
});

test('merge (import) of every corpus file into every other: the result parses, values are set, every comment is kept, a second merge changes nothing', () => {
  const files = readdirSync(FIXTURES).filter((f) => !f.startsWith('.')).sort();
  const text = (f: string) => readFileSync(join(FIXTURES, f), 'utf8');
  for (const a of files) {
    for (const b of files) {
      const into = parseEnv(text(a), a);
      const from = parseEnv(text(b), b);
      const before = into.toMap();
      into.merge(from);
      const out = parseEnv(into.serialize(), `${b} into ${a}`);
      for (const [k, v] of from.entries()) assert.equal(out.get(k), v, `${b} into ${a}: ${k}`);
      for (const [k, v] of before) if (!from.has(k)) assert.equal(out.get(k), v, `${b} into ${a}: kept ${k}`);
      const kept = new Set(out.comments().map((c) => c.text));
      for (const c of from.comments()) assert.ok(kept.has(c.text), `${b} into ${a}: comment on line ${c.line}`);
      const again = parseEnv(out.serialize()).merge(from);
      assert.equal(again.comments, 0, `${b} into ${a}: comments carried twice`);
      assert.ok(again.results.every(([, r]) => r === 'unchanged'), `${b} into ${a}: changed twice`);
    }
  }
  // Into an empty document: the file as it is.
  for (const b of files) {
    const empty = new EnvDocument();
    empty.merge(parseEnv(text(b)));
    assert.equal(empty.serialize(), text(b), b);
  }
});
