import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LSM_BIN, cleanEnv, initHome, lsm, lsmCommand, tempDir } from './helpers.js';
import { loadPty, runInPty } from '../src/pty.js';
import { MASK, MIN_MASK_BYTES, Matcher, MaskStream, forms, matcherFor } from '../src/mask-stream.js';

// A value with characters that every encoding treats differently: '/', '"', '+', a space,
// a backslash, a newline and two-byte and four-byte UTF-8.
const VALUE = 'pa55 w/"rd+Ω\\x\n😀-tail';
const OTHER = 'postgres://user:s3cr3t@db.internal:5432/app?ssl=true';

function maskAll(values: string[], chunks: Uint8Array[]): string {
  const ms = new MaskStream(matcherFor(values)!);
  const out = chunks.map((c) => ms.push(c));
  out.push(ms.end());
  return Buffer.concat(out).toString('utf8');
}

function split(buf: Buffer, ...at: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let from = 0;
  for (const i of at) {
    parts.push(buf.subarray(from, i));
    from = i;
  }
  parts.push(buf.subarray(from));
  return parts;
}

const b64 = (b: Buffer) => b.toString('base64');
const b64url = (b: Buffer) => b.toString('base64url');

/** Every encoding the masker claims, embedded in surrounding text the way programs print them. */
function encodings(value: string): Record<string, string> {
  const raw = Buffer.from(value, 'utf8');
  const out: Record<string, string> = {
    raw: `value=${value};`,
    json: `{"v":${JSON.stringify(value)}}`,
    jsonSlashes: `{"v":"${JSON.stringify(value).slice(1, -1).replace(/\//g, '\\/')}"}`,
    // PHP's json_encode by default: slashes and every non-ASCII UTF-16 unit escaped.
    php: `{"v":"${JSON.stringify(value).slice(1, -1).replace(/\//g, '\\/').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"}`,
    url: `https://x.test/?v=${encodeURIComponent(value)}&z=1`,
    form: `a=1&${new URLSearchParams({ v: value })}`,
    base64: `Basic ${b64(raw)}`,
    base64url: `tok.${b64url(raw)}.sig`,
  };
  // Inside a longer base64 text at each byte offset mod 3, in both alphabets.
  for (let k = 0; k < 3; k++) {
    const wrapped = Buffer.concat([Buffer.from('user:'.slice(0, k + 2)), raw, Buffer.from(':rest of it')]);
    out[`base64@${k}`] = `Authorization: Basic ${b64(wrapped)}`;
    out[`base64url@${k}`] = `jwt ${b64url(wrapped)}`;
  }
  return out;
}

/** What must not survive masking: the value and the stretch of each encoding that only the value determines. */
function leaks(value: string, text: string): string[] {
  const found: string[] = [];
  const raw = Buffer.from(value, 'utf8');
  for (const f of forms(value)) if (text.includes(f.toString('latin1'))) found.push(f.toString('latin1'));
  // Independent of forms(): a run of 12 bytes of the value, as is, would be a leak.
  for (let i = 0; i + 12 <= raw.length; i++) if (Buffer.from(text, 'utf8').includes(raw.subarray(i, i + 12))) found.push(`raw[${i}..]`);
  return found;
}

test('every encoding is masked, embedded in text, at each base64 offset mod 3', () => {
  for (const [name, text] of Object.entries(encodings(VALUE))) {
    const out = maskAll([VALUE], [Buffer.from(`${text}\n`)]);
    assert.deepEqual(leaks(VALUE, out), [], `${name}: ${out}`);
    assert.ok(out.includes(MASK), `${name} masked: ${out}`);
  }
  assert.equal(maskAll([VALUE], [Buffer.from(`value=${VALUE};\n`)]), `value=${MASK};\n`);
  assert.equal(maskAll([VALUE], [Buffer.from(JSON.stringify({ v: VALUE }))]), `{"v":"${MASK}"}`);
  assert.equal(maskAll([OTHER], [Buffer.from(`x=${encodeURIComponent(OTHER)}&y`)]), `x=${MASK}&y`);
  assert.equal(maskAll([OTHER], [Buffer.from(`[${b64(Buffer.from(OTHER))}]`)]), `[${MASK}]`);
});

test('a value split at every byte boundary across two writes is masked, in every encoding', () => {
  for (const [name, text] of Object.entries(encodings(VALUE))) {
    const buf = Buffer.from(`${text}\n`);
    for (let i = 0; i <= buf.length; i++) {
      const out = maskAll([VALUE, OTHER], split(buf, i));
      assert.deepEqual(leaks(VALUE, out), [], `${name} split at ${i}: ${out}`);
      assert.equal(out, maskAll([VALUE, OTHER], [buf]), `${name} split at ${i} gives the same output as one write`);
    }
  }
});

test('one byte at a time, and three-way splits, give the same output as one write', () => {
  const buf = Buffer.from(Object.values(encodings(OTHER)).join('\n'));
  const whole = maskAll([OTHER], [buf]);
  assert.equal(maskAll([OTHER], [...buf].map((b) => Buffer.from([b]))), whole);
  for (let i = 0; i < 80; i += 7) for (let j = i; j < 120; j += 11) assert.equal(maskAll([OTHER], split(buf, i, j)), whole);
});

test('chunking never changes the output (property)', () => {
  const values = ['AKIAIOSFODNN7EXAMPLE', 'sk_live_0123456789abcdefABCDEF', 'hunter2hunter2'];
  const matcher = matcherFor(values)!;
  const piece = fc.oneof(
    fc.constantFrom(...values.flatMap((v) => forms(v).map((f) => f.toString('latin1')))),
    fc.string({ maxLength: 12 }),
    fc.constantFrom('AKIA', 'sk_live_', 'hunter', 'aHVudGVy', '\n', '%2F'),
  );
  fc.assert(fc.property(fc.array(piece, { maxLength: 30 }), fc.array(fc.nat(400), { maxLength: 8 }), (pieces, cuts) => {
    const buf = Buffer.from(pieces.join(''), 'latin1');
    const one = new MaskStream(matcher);
    const whole = Buffer.concat([one.push(buf), one.end()]);
    const ms = new MaskStream(matcher);
    const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
    const chunked = Buffer.concat([...split(buf, ...at).map((c) => ms.push(c)), ms.end()]);
    assert.deepEqual(chunked, whole);
    for (const v of values) assert.ok(!whole.includes(Buffer.from(v)), `${v} leaked`);
  }), { numRuns: 300 });
});

/**
 * What MaskStream must print, by brute force: at each end position the longest pattern
 * that ends there marks [end - length, end); marks that overlap merge into one mask.
 */
function maskedByHand(patterns: string[], text: string, mask: string): string {
  const runs: [number, number][] = [];
  for (let end = 1; end <= text.length; end++) {
    const len = Math.max(0, ...patterns.filter((p) => p.length <= end && text.slice(end - p.length, end) === p).map((p) => p.length));
    if (len === 0) continue;
    let from = end - len;
    while (runs.length > 0 && runs[runs.length - 1][1] > from) from = Math.min(from, runs.pop()![0]);
    runs.push([from, end]);
  }
  let out = '';
  let at = 0;
  for (const [from, end] of runs) {
    out += text.slice(at, from) + mask;
    at = end;
  }
  return out + text.slice(at);
}

test('the automaton, its rows built as the scan reaches them, masks what brute force does (property)', () => {
  // A small alphabet makes patterns overlap, nest and share prefixes and suffixes, so that
  // failure links run deep and rows are built in every order.
  const word = (max: number) => fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 1, maxLength: max });
  fc.assert(fc.property(fc.uniqueArray(word(6), { minLength: 1, maxLength: 8 }), fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd'), maxLength: 120 }), fc.array(fc.nat(200), { maxLength: 6 }), (patterns, text, cuts) => {
    const matcher = new Matcher(patterns.map((p) => Buffer.from(p, 'latin1')));
    const buf = Buffer.from(text, 'latin1');
    const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
    const ms = new MaskStream(matcher, '#');
    const got = Buffer.concat([...split(buf, ...at).map((c) => ms.push(c)), ms.end()]).toString('latin1');
    assert.equal(got, maskedByHand(patterns, text, '#'));
  }), { numRuns: 1000 });
});

test('only what may begin a secret is held back; the rest is shown at once', () => {
  const ms = new MaskStream(matcherFor(['sk_live_abcdef123456'])!);
  assert.equal(ms.push(Buffer.from('hello world\n')).toString(), 'hello world\n');
  assert.equal(ms.held, 0);
  assert.equal(ms.push(Buffer.from('key: sk_li')).toString(), 'key: ');
  assert.equal(ms.held, 5);
  assert.equal(ms.push(Buffer.from('ve_abcdef123456 ok')).toString(), `${MASK} ok`);
  assert.equal(ms.push(Buffer.from('sk_lime')).toString(), 'sk_lime', 'a prefix that stops matching is released');
  assert.equal(ms.push(Buffer.from('sk_')).toString(), '');
  assert.equal(ms.end().toString(), 'sk_', 'the end of the stream releases a partial prefix');
});

test('idle release shows at most the allowed hold, and the rest of a late secret is still masked', () => {
  const ms = new MaskStream(matcherFor(['sk_live_abcdef123456'])!);
  assert.equal(ms.push(Buffer.from('prompt> s')).toString(), 'prompt> ');
  assert.equal(ms.releaseIdle(0).length, 0);
  assert.equal(ms.releaseIdle(1).toString(), 's');
  assert.equal(Buffer.concat([ms.push(Buffer.from('k_live_abcdef123456!')), ms.end()]).toString(), `${MASK}!`);
  const long = new MaskStream(matcherFor(['sk_live_abcdef123456'])!);
  long.push(Buffer.from('sk_live'));
  assert.equal(long.releaseIdle(1).length, 0, 'a longer hold is not released by a pause');
});

test('overlapping and adjacent secrets: every byte of any match is masked', () => {
  assert.equal(maskAll(['abcdef123', 'f123456789'], [Buffer.from('xabcdef123456789y')]), `x${MASK}y`);
  assert.equal(maskAll(['abcdef123', 'zz9876543'], [Buffer.from('abcdef123zz9876543')]), `${MASK}${MASK}`);
  assert.equal(maskAll(['abcdef123'], [Buffer.from('abcdef123abcdef123')]), `${MASK}${MASK}`);
});

test(`values shorter than ${MIN_MASK_BYTES} bytes are not masked; no value at all gives no matcher`, () => {
  assert.deepEqual(forms('5432'), []);
  assert.deepEqual(forms('true'), []);
  assert.equal(matcherFor(['5432', 'dev', '']), undefined);
  assert.equal(maskAll(['5432', 'longer-secret'], [Buffer.from('port 5432 longer-secret')]), `port 5432 ${MASK}`);
  assert.ok(forms('abcdef').length > 0);
});

test('CRLF line ends (as a terminal shows a multi-line value) are masked too', () => {
  const v = 'line-one\nline-two';
  assert.equal(maskAll([v], [Buffer.from('a line-one\r\nline-two b')]), `a ${MASK} b`);
});

test('throughput: 16 MB through the masker with 20 values', () => {
  const values = Array.from({ length: 20 }, (_, i) => `secret-${i}-${'x'.repeat(i)}-${i * 7919}`);
  const ms = new MaskStream(matcherFor(values)!);
  const chunk = Buffer.alloc(64 * 1024, 'The quick brown fox jumps over the lazy dog 0123456789 secret-1-\n');
  const t0 = performance.now();
  let n = 0;
  for (let i = 0; i < 256; i++) n += ms.push(chunk).length;
  n += ms.end().length;
  const ms16 = performance.now() - t0;
  assert.equal(n, 256 * chunk.length);
  // Not a benchmark (npm run bench is): a guard against an accidental quadratic path.
  assert.ok(ms16 < 5000, `${ms16} ms`);
});

// ------------------------------------------------------------------ end to end: lsm exec --mask


const SECRET = 'e2e-S3cret/"v+Ω val';
/** What lsm says on stderr after a masked child's output when one value was masked. */
const NOTICE = 'lsm: masked 1 value in the output; --no-mask to see it\n';
const hasScript = spawnSync('script', ['--version']).status === 0;
// The native (Bun) build runs masked children in pipes, never in a pseudo-terminal.
const hasPty = /\.c?js$/.test(LSM_BIN) && loadPty() !== undefined;

function secretHome(): string {
  const home = initHome();
  const r = lsm(['set', 'app', 'dev', 'TOKEN', '-'], { home, input: SECRET });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lsm(['set', 'app', 'dev', 'PORT', '5432'], { home }).code, 0);
  return home;
}

/**
 * A child that prints each encoding of the secret split in two writes, at every byte
 * boundary from just before the secret's stretch to just after it, with a pause
 * between the writes so that lsm reads them separately.
 */
function splitWriter(dir: string): { argv: string[]; expected: string } {
  const items: [string, number][] = [];
  for (const text of Object.values(encodings(SECRET))) {
    const line = Buffer.from(`${text}\n`);
    for (let at = 0; at <= line.length; at++) items.push([text, at]);
  }
  const file = join(dir, 'items.json');
  writeFileSync(file, JSON.stringify(items));
  const code = `
    const fs = require('fs');
    const items = JSON.parse(fs.readFileSync(${JSON.stringify(file)}, 'utf8'));
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    (async () => {
      for (const [text, at] of items) {
        const b = Buffer.from(text + '\\n');
        fs.writeSync(1, b.subarray(0, at));
        await sleep(1);
        fs.writeSync(1, b.subarray(at));
      }
      process.stdout.write('tty=' + Boolean(process.stdout.isTTY) + '\\n');
    })();`;
  const expected = maskAll([SECRET], [Buffer.from(items.map(([t]) => `${t}\n`).join(''))]);
  return { argv: [process.execPath, '-e', code], expected };
}

test('exec --mask through pipes: every split point of every encoding is masked', () => {
  const home = secretHome();
  const { argv, expected } = splitWriter(tempDir());
  const r = lsm(['exec', 'app', 'dev', '--mask', '--', ...argv], { home, timeout: 60000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${expected}tty=false\n`);
  assert.deepEqual(leaks(SECRET, r.stdout), []);
  const ev = JSON.parse(readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').at(-1)!);
  assert.equal(ev.event, 'exec');
  assert.deepEqual([ev.fields.mask, ev.fields.mask_source, ev.fields.unmasked], [true, 'flag', ['PORT']]);
});

/**
 * Runs lsm on a terminal made by script(1). Its stdin stays open until lsm is done:
 * script turns the end of its own stdin into a byte on the terminal, which a raw-mode
 * lsm would pass on to the child.
 */
function viaScript(home: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const [node, pre] = lsmCommand();
  const cmd = [node, ...pre, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: cleanEnv({ LSM_DIR: home, ...env }), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    child.stdin.destroy();
    // exec's one line on a terminal (how many secrets from which store) is not the child's output.
    resolve({ code, out: out.replace(/\r/g, '').replace(/^lsm: injected \d+ secrets? from \S+( \(masked in the output\))?\n/, '') });
  }));
}

test('exec --mask on a terminal runs the child in a pseudo-terminal: every split point masked there too', { skip: (!hasScript && 'util-linux script is not installed') || (!hasPty && 'no pseudo-terminal: node-pty is not installed, or this is the native build') }, async () => {
  const home = secretHome();
  const { argv, expected } = splitWriter(tempDir());
  const r = await viaScript(home, ['exec', 'app', 'dev', '--mask', '--', ...argv]);
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out, `${expected}tty=true\n${NOTICE}`, 'the child had a terminal; the notice follows the output');
  assert.deepEqual(leaks(SECRET, r.out), []);
});

test('on a terminal, a person gets plain output by default and an agent masked output, recorded either way', { skip: !hasScript && 'util-linux script is not installed' }, async () => {
  const home = secretHome();
  const show = ['exec', 'app', 'dev', '--', 'sh', '-c', 'printf "%s|" "$TOKEN"; if test -t 1; then echo tty; fi'];
  const person = await viaScript(home, show);
  assert.equal(person.code, 0, person.out);
  assert.equal(person.out, `${SECRET}|tty\n`);
  const agent = await viaScript(home, show, { CLAUDECODE: '1' });
  assert.equal(agent.code, 0, agent.out);
  assert.equal(agent.out, hasPty ? `${MASK}|tty\n${NOTICE}` : `${MASK}|${NOTICE}`);
  const rows = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === 'exec');
  assert.deepEqual(rows.map((r) => [r.fields.mask, r.fields.mask_source]), [[false, 'default'], [true, 'default']]);
});

test('masked exec keeps exit codes, signals and stdin; the masking default for callers without a terminal is on', () => {
  const home = secretHome();
  assert.equal(lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'echo "$TOKEN"; exit 7'], { home }).code, 7);
  const plain = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'echo "$TOKEN"; echo "$TOKEN" >&2; cat'], { home, input: 'from stdin\n' });
  assert.equal(plain.stdout, `${MASK}\nfrom stdin\n`);
  assert.equal(plain.stderr, `${MASK}\n${NOTICE}`);
  const killed = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'echo "$TOKEN"; kill -TERM $$'], { home });
  assert.equal(killed.signal, 'SIGTERM');
  assert.equal(killed.stdout, `${MASK}\n`, 'output before the signal is shown, masked');
  // Output the reader stops reading: the child meets a closed pipe, as without lsm.
  const [node, pre] = lsmCommand();
  const head = spawnSync('sh', ['-c', `"$0" "$@" | head -c 5`, node, ...pre, 'exec', 'app', 'dev', '--', 'sh', '-c', 'yes "$TOKEN"'], { env: cleanEnv({ LSM_DIR: home }), encoding: 'utf8', timeout: 20000 });
  assert.equal(head.stdout, MASK.slice(0, 5));
  assert.equal(head.status, 0);
});

const nodeBundle = /\.c?js$/.test(LSM_BIN);

test('masked output goes through real pipes: /dev/stdout opens, a reader that stops is SIGPIPE, nothing left in TMPDIR', { skip: !nodeBundle && 'the native build keeps the runtime\'s socket pairs (README)' }, () => {
  // Node's 'pipe' stdio is a socket pair: open("/dev/stdout") fails with ENXIO on one, and a
  // closed reader gives the writer ECONNRESET ("Connection reset by peer", exit 1).
  const home = secretHome();
  const tmp = tempDir();
  const env = { TMPDIR: tmp };
  const r = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'echo "out $TOKEN" > /dev/stdout && echo err > /dev/stderr && stat -L -c %F /proc/self/fd/1 /proc/self/fd/2'], { home, env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `out ${MASK}\nfifo\nfifo\n`);
  assert.equal(r.stderr, `err\n${NOTICE}`);
  const [node, pre] = lsmCommand();
  const head = spawnSync('bash', ['-c', 'set -o pipefail; "$0" "$@" | head -1', node, ...pre, 'exec', 'app', 'dev', '--', 'seq', '1', '10000000'], {
    env: cleanEnv({ LSM_DIR: home, ...env }), encoding: 'utf8', timeout: 20000,
  });
  assert.equal(head.stdout, '1\n');
  assert.equal(head.status, 141, `the child died of SIGPIPE, and lsm with it: ${head.stderr}`);
  assert.equal(head.stderr, '');
  assert.deepEqual(readdirSync(tmp), [], 'the pipes were unlinked');
});

test('--no-mask is plaintext egress: an agent on prod needs a reason; the choice is recorded', () => {
  const home = initHome();
  lsm(['set', 'app', 'prod', 'TOKEN', '-'], { home, input: SECRET });
  const agent = { CLAUDECODE: '1' };
  const masked = lsm(['exec', 'app', 'prod', '--', 'sh', '-c', 'echo "$TOKEN"'], { home, env: agent });
  assert.equal(masked.code, 0, masked.stderr);
  assert.equal(masked.stdout, `${MASK}\n`, 'masked output needs no reason');
  const refused = lsm(['exec', 'app', 'prod', '--no-mask', '--', 'sh', '-c', 'echo "$TOKEN"; touch ran'], { home, env: agent, cwd: tempDir() });
  assert.equal(refused.code, 4);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /refused: plaintext of prod secrets to an agent needs a reason/);
  assert.match(refused.stderr, /hint: leave the output masked \(drop --no-mask\)/);
  const ok = lsm(['exec', 'app', 'prod', '--no-mask', '--reason', 'compare the TLS cert', '--', 'sh', '-c', 'echo "$TOKEN"'], { home, env: agent });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `${SECRET}\n`);
  const rows = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === 'exec');
  assert.deepEqual(rows.map((r) => [r.outcome, r.fields.mask, r.fields.mask_source, r.fields.reason ?? null]), [
    ['ok', true, 'default', null], ['denied', false, 'flag', null], ['ok', false, 'flag', 'compare the TLS cert'],
  ]);
  assert.ok(!readFileSync(join(home, 'audit.jsonl'), 'utf8').includes(SECRET));
});

test('in the pseudo-terminal: exit codes and signals pass through, and the window size follows lsm\'s', { skip: (!hasScript && 'util-linux script is not installed') || (!hasPty && 'no pseudo-terminal: node-pty is not installed, or this is the native build') }, async () => {
  const home = secretHome();
  assert.equal((await viaScript(home, ['exec', 'app', 'dev', '--mask', '--', 'sh', '-c', 'exit 7'])).code, 7);
  // script(1) reports a command killed by SIGTERM as 128 + 15, as it does for plain exec.
  assert.equal((await viaScript(home, ['exec', 'app', 'dev', '--mask', '--', 'sh', '-c', 'kill -TERM $$'])).code, 143);
  const [node, pre] = lsmCommand();
  const lsmCmd = [node, ...pre].map((a) => `'${a}'`).join(' ');
  // The trap disarms itself: a second SIGWINCH while `stty size` runs would run it again, nested (one
  // clean-clone run printed the size twice). stty sets rows and cols in two ioctls, hence two resizes.
  const child = `stty size; trap "trap \\"\\" WINCH; stty size; exit 0" WINCH; echo ready; while :; do sleep 0.05; done`;
  // `&` in a script would give lsm /dev/null for stdin, and a child whose stdin is not a terminal gets pipes.
  const outer = `stty cols 123 rows 40; ${lsmCmd} exec app dev --mask -- sh -c '${child}' </dev/tty & p=$!; sleep 1; stty cols 99 rows 30; kill -WINCH $p; wait $p`;
  // script's stdin stays open: its end would be a byte on the terminal, passed on by a raw-mode lsm.
  const sc = spawn('script', ['-qec', outer, '/dev/null'], { env: cleanEnv({ LSM_DIR: home }), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  sc.stdout.on('data', (d) => { out += d; });
  const timer = setTimeout(() => sc.kill('SIGKILL'), 20000);
  const status = await new Promise((resolve) => sc.on('close', resolve));
  clearTimeout(timer);
  sc.stdin.destroy();
  assert.equal(status, 0, out);
  assert.equal(out.replace(/\r/g, '').replace(/^lsm: injected .*\n/, ''), '40 123\nready\n30 99\n');
});

test('a pseudo-terminal that cannot start the child leaves the caller to fall back to pipes', () => {
  const failing = { spawn: () => { throw new Error('no pty here'); } };
  const ctx = { stdout: { write: () => true } } as never;
  assert.equal(runInPty(failing, '/bin/true', ['true'], {}, matcherFor([SECRET])!, ctx), undefined);
});

// ------------------------------------------------------------------ accidental forms (issue 20, item 3)

// A throwaway PEM: armour, 64-character base64 body lines, a short last line.
const PEM = [
  '-----BEGIN PRIVATE KEY-----',
  'MIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBAL9FRHsvLLy8Ko64',
  'lBmAqBO3eV+zHIqein6guum0qY+Q7c2mZ0pXk4Wl1Jd3aTrEe9sNhV8oYbCfGu2x',
  'S4RwKq7LmPzN1Dv6HtJ9XcAa0BfUeIg5Oy3MpVrTkWsZnQhE2jYuC8lD4oF7bGiA',
  'QAB3kZ==',
  '-----END PRIVATE KEY-----',
].join('\n');
const DB_URL = 'postgres://app:Xk3v9QmZp2Lw@db.internal:5432/app?sslmode=require';
const GIT_URL = 'https://ghp_R2d4Xk9vQmZp2Lw7Tn3s@github.com/acme/app.git';

test('each long enough line of a multi-line value is masked on its own; PEM armour and short lines are not', () => {
  const body = PEM.split('\n');
  assert.equal(maskAll([PEM], [Buffer.from(`${body.slice(0, 3).join('\n')}\n`)]), `${body[0]}\n${MASK}\n${MASK}\n`);
  assert.equal(maskAll([PEM], [Buffer.from(`x ${body[3]} y`)]), `x ${MASK} y`);
  // Shorter than MIN_LINE_BYTES: structure more often than secret (`users:`, `}`).
  assert.equal(maskAll([PEM], [Buffer.from(`${body[4]}\n${body[5]}\n`)]), `${body[4]}\n${body[5]}\n`);
  assert.equal(maskAll(['users:\n  - name: dev\n  token: 0123456789abcdefXYZ\n'], [Buffer.from('users:\n  - name: dev\n')]), 'users:\n  - name: dev\n');
  assert.deepEqual(forms('a\nb\nc'), [], `a value under ${MIN_MASK_BYTES} bytes is still not masked at all`);
});

test('the whitespace-joined form (`echo $V` unquoted) of a value is masked', () => {
  const joined = PEM.split(/\s+/).join(' ');
  assert.equal(maskAll([PEM], [Buffer.from(`${joined}\n`)]), `${MASK}\n`);
  assert.equal(maskAll(['  two  words\tand\tmore '], [Buffer.from('[two words and more]')]), `[${MASK}]`);
});

test('the credential of a URL-shaped value is masked alone, in its encodings too (a Basic auth header)', () => {
  assert.equal(maskAll([DB_URL], [Buffer.from(`${DB_URL.slice(0, 40)}\n`)]), `postgres://app:${MASK}@db.internal:\n`);
  assert.ok(!maskAll([DB_URL], [Buffer.from(`Basic ${b64(Buffer.from('app:Xk3v9QmZp2Lw'))}`)]).includes(b64(Buffer.from('app:Xk3v9QmZp2Lw')).slice(4, 16)));
  // No password: the userinfo is the token.
  assert.equal(maskAll([GIT_URL], [Buffer.from('remote https://ghp_R2d4Xk9vQmZp2Lw7Tn3s@github.com/acme\n')]), `remote https://${MASK}@github.com/acme\n`);
  // A short user name without a password is a name, not a token: not masked alone.
  assert.equal(maskAll(['postgres://postgres@localhost:5432/app'], [Buffer.from('connecting to postgres')]), 'connecting to postgres');
  // Percent-encoded in the URL: masked as written and decoded.
  assert.equal(maskAll(['redis://:p%40ss-w0rd!@cache:6379'], [Buffer.from('p%40ss-w0rd! p@ss-w0rd!')]), `${MASK} ${MASK}`);
  // A password under the minimum is not masked alone (the whole URL still is).
  assert.equal(maskAll(['mysql://u:pw1@db.internal/x'], [Buffer.from('pw1 mysql://u:pw1@db.internal/x')]), `pw1 ${MASK}`);
});

test('MaskStream counts the distinct values it masked, not the places', () => {
  const ms = new MaskStream(matcherFor(['first-secret', 'second-secret', 'first-secret'])!);
  ms.push(Buffer.from('first-secret first-secret second-secret '));
  ms.end();
  assert.equal(ms.values.size, 2);
  const none = new MaskStream(matcherFor(['first-secret'])!);
  none.push(Buffer.from('nothing here'));
  assert.equal(none.values.size, 0);
});

function accidentHome(config = ''): string {
  const home = initHome();
  for (const [k, v] of Object.entries({ PEM, DB_URL, NODE_ENV: 'development', APP_NAME: 'acme-shop', TOKEN: SECRET, PORT: '5432' })) {
    const r = lsm(['set', 'app', 'dev', k, '-'], { home, input: v });
    assert.equal(r.code, 0, r.stderr);
  }
  if (config) writeFileSync(join(home, 'config.yaml'), `${readFileSync(join(home, 'config.yaml'), 'utf8')}\n${config}`);
  return home;
}

const execEvents = (home: string) => readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === 'exec');

test('exec: `echo $PEM` (unquoted, lines joined by spaces) is masked, and stderr says a value was', () => {
  const home = accidentHome();
  const r = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'echo $PEM'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${MASK}\n`);
  assert.equal(r.stderr, NOTICE, 'a count, no value and no name');
  const quiet = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'echo nothing secret'], { home });
  assert.equal(quiet.stderr, '', 'nothing masked, nothing said');
});

test('exec: `echo "$PEM" | head -3` shows the armour and masks each body line', () => {
  const home = accidentHome();
  const body = PEM.split('\n');
  const r = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'echo "$PEM" | head -3'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${body[0]}\n${MASK}\n${MASK}\n`);
  assert.equal(r.stderr, NOTICE);
});

test('exec: `echo "$URL" | cut -c1-40` masks the password the prefix holds; the notice counts values', () => {
  const home = accidentHome();
  const r = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'echo "$DB_URL" | cut -c1-40; echo "$TOKEN" >&2'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `postgres://app:${MASK}@db.internal:\n`);
  assert.ok(!r.stdout.includes('Xk3v9QmZp2Lw'));
  assert.equal(r.stderr, `${MASK}\nlsm: masked 2 values in the output; --no-mask to see them\n`, 'after the child\'s own stderr');
});

test('exec: keys marked public in config.yaml are shown and recorded; nothing else can mark them', () => {
  const home = accidentHome('mask:\n  public: [NODE_ENV, "app/dev/APP_NAME", "other/PEM"]\n');
  const show = ['exec', 'app', 'dev', '--', 'sh', '-c', 'echo "$NODE_ENV $APP_NAME $TOKEN"'];
  const r = lsm(show, { home });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `development acme-shop ${MASK}\n`);
  const ev = execEvents(home).at(-1);
  assert.deepEqual([ev.fields.public, ev.fields.unmasked], [['NODE_ENV', 'APP_NAME'], ['PORT']]);
  // A project file or the environment does not unmask.
  const project = tempDir();
  writeFileSync(join(project, '.lsm.yaml'), 'app: app\nenv: dev\nmask:\n  public: [TOKEN]\n');
  const agent = lsm(show, { home, cwd: project, env: { CLAUDECODE: '1', LSM_MASK_PUBLIC: 'TOKEN', LSM_MASK: 'public: [TOKEN]' } });
  assert.equal(agent.stdout, `development acme-shop ${MASK}\n`);
  // Without the marking, as before: every value long enough is masked.
  const plain = lsm(show, { home: accidentHome() });
  assert.equal(plain.stdout, `${MASK} ${MASK} ${MASK}\n`);
  assert.deepEqual(execEvents(home).at(-1).fields.public, ['NODE_ENV', 'APP_NAME'], 'the agent\'s run is recorded the same');
});

test('exec: a malformed mask: section makes nothing public, with a warning', () => {
  const home = accidentHome('mask:\n  public: NODE_ENV\n');
  const r = lsm(['exec', 'app', 'dev', '--', 'sh', '-c', 'echo "$NODE_ENV"'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${MASK}\n`);
  assert.match(r.stderr, /warning: .*config\.yaml: 'mask\.public' must be a list .*; every value is masked/);
  assert.equal(execEvents(home).at(-1).fields.public, undefined);
});

test('mask.public: KEY, app/KEY and app/env/KEY with wildcards, as docs/policy.md shows; anything else makes nothing public', async () => {
  const { parseConfigText } = await import('../src/config.js');
  const { parsePublic, isPublic } = await import('../src/mask-public.js');
  const text = 'mask:\n  public:\n    - NODE_ENV            # in every store\n    - web/APP_NAME\n    - web/dev/LOG_LEVEL\n    - "NEXT_PUBLIC_*"\n';
  const pub = parsePublic(await parseConfigText(text, 'config.yaml'), 'config.yaml');
  assert.equal(pub.error, undefined);
  const shown = (app: string, env: string, key: string) => isPublic(pub, app, env, key);
  assert.deepEqual([shown('api', 'prod', 'NODE_ENV'), shown('api', 'dev', 'node_env')], [true, false], 'key names match exactly');
  assert.deepEqual([shown('web', 'prod', 'APP_NAME'), shown('WEB', 'dev', 'APP_NAME'), shown('api', 'dev', 'APP_NAME')], [true, true, false]);
  assert.deepEqual([shown('web', 'dev', 'LOG_LEVEL'), shown('web', 'prod', 'LOG_LEVEL')], [true, false]);
  assert.deepEqual([shown('x', 'y', 'NEXT_PUBLIC_URL'), shown('x', 'y', 'NEXT_SECRET')], [true, false]);
  for (const bad of ['mask: [NODE_ENV]\n', 'mask:\n  public: NODE_ENV\n', 'mask:\n  public: ["a/b/c/d"]\n', 'mask:\n  public: ["K EY"]\n', 'mask:\n  show: [X]\n', 'mask:\n  public: [1]\n']) {
    const r = parsePublic(await parseConfigText(bad, 'config.yaml'), 'config.yaml');
    assert.deepEqual(r.entries, [], bad);
    assert.match(r.error ?? '', /^config\.yaml: .*; every value is masked$/, bad);
  }
});
