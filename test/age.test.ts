import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto, { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import * as vectors from 'cctv-age';
import * as typage from 'age-encryption';
import fc from 'fast-check';
import {
  AgeError,
  decrypt,
  encrypt,
  generateIdentity,
  identityToRecipient,
  nativeAead,
  nobleAead,
  parseIdentity,
  parseRecipient,
  preloadNoble,
  useAead,
  type AgeErrorKind,
} from '../src/age/age.js';
import { hkdf32 } from '../src/age/hkdf.js';
import { tempDir } from './helpers.js';

const CHUNK = 64 * 1024;
const SIZES = [0, 1, 65535, 65536, 65537, 200000];

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytesEqual = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

function ageKind(fn: () => unknown): AgeErrorKind {
  try {
    fn();
  } catch (err) {
    if (err instanceof AgeError) return err.kind;
    throw err;
  }
  assert.fail('expected an AgeError');
}

// --- CCTV vectors -----------------------------------------------------------

interface Vector {
  name: string;
  expect: string;
  payload?: string;
  identities: string[];
  passphrases: string[];
  file: Uint8Array;
}

/** Vector files are `key: value` lines, a blank line, then the (maybe zlib'd) age file. */
function parseVector(name: string, raw: Uint8Array): Vector {
  const v: Vector = { name, expect: '', identities: [], passphrases: [], file: raw };
  let pos = 0;
  let compressed = false;
  for (;;) {
    const end = raw.indexOf(0x0a, pos);
    assert.ok(end >= 0, `${name}: no blank line after the vector header`);
    const line = Buffer.from(raw.subarray(pos, end)).toString('utf8');
    pos = end + 1;
    if (line === '') break;
    const sep = line.indexOf(': ');
    const key = sep < 0 ? line : line.slice(0, sep);
    const value = sep < 0 ? '' : line.slice(sep + 2);
    if (key === 'expect') v.expect = value;
    else if (key === 'payload') v.payload = value;
    else if (key === 'identity') v.identities.push(value);
    else if (key === 'passphrase') v.passphrases.push(value);
    else if (key === 'compressed') compressed = value === 'zlib';
  }
  v.file = compressed ? inflateSync(raw.subarray(pos)) : raw.subarray(pos);
  return v;
}

const EXPECTED_KINDS: Record<string, AgeErrorKind[]> = {
  'no match': ['no_identity_matched'],
  'HMAC failure': ['header'],
  'header failure': ['header', 'unsupported', 'truncated'],
  'payload failure': ['payload', 'truncated'],
  'armor failure': ['armor'],
};

interface Tally {
  total: number;
  succeeded: number;
  rejected: number;
  skippedScrypt: number;
  skippedHybrid: number;
  unexpected: string[];
}

function runVectors(): Tally {
  const tally: Tally = { total: 0, succeeded: 0, rejected: 0, skippedScrypt: 0, skippedHybrid: 0, unexpected: [] };
  for (const [name, raw] of Object.entries(vectors)) {
    if (!(raw instanceof Uint8Array)) continue;
    tally.total++;
    const v = parseVector(name, raw);
    const x25519 = v.identities.filter((i) => i.startsWith('AGE-SECRET-KEY-1'));
    // Vectors that only a passphrase or a post-quantum identity can open say
    // nothing about an X25519-only implementation.
    if (x25519.length === 0 && v.passphrases.length > 0) {
      tally.skippedScrypt++;
      continue;
    }
    if (x25519.length === 0 && v.identities.length > 0) {
      tally.skippedHybrid++;
      continue;
    }
    let out: Uint8Array | undefined;
    let error: unknown;
    try {
      out = decrypt(v.file, x25519);
    } catch (err) {
      error = err;
    }
    if (v.expect === 'success') {
      if (out !== undefined && sha256(out) === v.payload) tally.succeeded++;
      else tally.unexpected.push(`${name}: expected success, got ${out ? 'a payload hash mismatch' : String(error)}`);
      continue;
    }
    const kinds = EXPECTED_KINDS[v.expect];
    assert.ok(kinds, `${name}: unknown expectation "${v.expect}"`);
    const isMac = error instanceof AgeError && error.message.includes('MAC mismatch');
    // An HMAC failure must not hide behind a parse error, nor the reverse.
    const ok = error instanceof AgeError && kinds.includes(error.kind) && isMac === (v.expect === 'HMAC failure');
    if (ok) tally.rejected++;
    else tally.unexpected.push(`${name}: expected ${v.expect}, got ${error === undefined ? 'success' : String(error)}`);
  }
  return tally;
}

for (const backend of ['native', 'noble'] as const) {
  describe(`CCTV vectors (${backend} ChaCha20-Poly1305)`, () => {
    before(async () => {
      await preloadNoble();
      useAead(backend === 'native' ? nativeAead : nobleAead());
    });
    after(() => useAead(undefined));

    test('every X25519 vector decrypts or fails exactly as expected', (t) => {
      const tally = runVectors();
      t.diagnostic(
        `${backend}: ${tally.total} vectors; ${tally.succeeded} decrypted, ${tally.rejected} expected failures rejected; ` +
          `skipped ${tally.skippedScrypt} scrypt-only and ${tally.skippedHybrid} post-quantum-only`,
      );
      assert.deepEqual(tally.unexpected, []);
      assert.equal(tally.total, 143);
      assert.ok(tally.succeeded >= 19, `succeeded ${tally.succeeded}`);
      assert.ok(tally.rejected >= 81, `rejected ${tally.rejected}`);
      assert.equal(tally.succeeded + tally.rejected + tally.skippedScrypt + tally.skippedHybrid, tally.total);
    });
  });
}

// --- HKDF ---------------------------------------------------------------------

describe('hkdf32', () => {
  test('RFC 5869 test case 3 (SHA-256, empty salt and info), first block', () => {
    const okm = hkdf32(Buffer.alloc(22, 0x0b), new Uint8Array(0), '');
    assert.equal(Buffer.from(okm).toString('hex'), '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d');
  });

  test('equals node:crypto hkdfSync for any key, salt and label', () => {
    const bytes = fc.uint8Array({ maxLength: 100 });
    fc.assert(
      fc.property(bytes, bytes, fc.string({ maxLength: 40, unit: 'grapheme' }), (ikm, salt, info) => {
        assert.ok(bytesEqual(hkdf32(ikm, salt, info), new Uint8Array(crypto.hkdfSync('sha256', ikm, salt, info, 32))));
      }),
      { numRuns: 500 },
    );
  });
});

// --- Keys ---------------------------------------------------------------------

describe('keys', () => {
  // The example pair from the age specification.
  const SPEC_IDENTITY = 'AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX';
  const SPEC_RECIPIENT = 'age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj';

  test('the spec example identity maps to the spec example recipient', () => {
    assert.equal(identityToRecipient(SPEC_IDENTITY), SPEC_RECIPIENT);
    assert.equal(parseRecipient(SPEC_RECIPIENT).toString(), SPEC_RECIPIENT);
  });

  test('a runtime that refuses JWK private keys falls back to PKCS#8', () => {
    const original = crypto.createPrivateKey;
    let refused = 0;
    crypto.createPrivateKey = ((key: Parameters<typeof original>[0]) => {
      if (typeof key === 'object' && 'format' in key && key.format === 'jwk' && ++refused) throw new Error('x does not match d');
      return original(key);
    }) as typeof original;
    syncBuiltinESMExports();
    try {
      assert.equal(identityToRecipient(SPEC_IDENTITY), SPEC_RECIPIENT);
      assert.equal(refused, 1);
    } finally {
      crypto.createPrivateKey = original;
      syncBuiltinESMExports();
    }
  });

  test('generated keys have the right shape and round-trip', () => {
    const { identity, recipient } = generateIdentity();
    assert.match(identity, /^AGE-SECRET-KEY-1[023456789ACDEFGHJKLMNPQRSTUVWXYZ]{58}$/);
    assert.match(recipient, /^age1[023456789acdefghjklmnpqrstuvwxyz]{58}$/);
    assert.equal(identityToRecipient(identity), recipient);
  });

  test('bech32 case, checksum, HRP and length rules are enforced', () => {
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'q' ? 'p' : s[i] === 'Q' ? 'P' : s[i] === 'p' ? 'q' : 'Q') + s.slice(i + 1);
    const cases: [string, AgeErrorKind][] = [
      [SPEC_IDENTITY.toLowerCase(), 'bad_key'],
      [SPEC_IDENTITY.slice(0, 20) + SPEC_IDENTITY.slice(20).toLowerCase(), 'bad_key'],
      [flip(SPEC_IDENTITY, 30), 'bad_key'],
      [SPEC_IDENTITY.slice(0, -1), 'bad_key'],
      [SPEC_IDENTITY + ' ', 'bad_key'],
      ['AGE-SECRET-KEY-1', 'bad_key'],
      [SPEC_RECIPIENT, 'bad_key'],
      ['AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR', 'unsupported'],
    ];
    for (const [text, kind] of cases) assert.equal(ageKind(() => parseIdentity(text)), kind, text);
    for (const text of [SPEC_RECIPIENT.toUpperCase(), flip(SPEC_RECIPIENT, 10), SPEC_IDENTITY, 'age1qqqqqqqqqqqqqqqqqqqqqqqqq3kz9ya', 'ssh-ed25519 AAAA']) {
      assert.equal(ageKind(() => parseRecipient(text)), 'bad_key', text);
    }
  });

  test('key errors never echo the key', () => {
    const { identity } = generateIdentity();
    const broken = identity.slice(0, -1) + (identity.endsWith('Q') ? 'P' : 'Q');
    try {
      parseIdentity(broken);
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof AgeError);
      assert.ok(!err.message.includes(broken.slice(16, 40)));
    }
    assert.ok(!JSON.stringify(parseIdentity(identity)).includes(identity.slice(16, 40)));
  });
});

// --- Round trips, tampering, truncation ---------------------------------------------

describe('encrypt and decrypt', () => {
  test('encrypting never deadlocks in node:crypto (a keygen job freed by a GC while its key is exported)', () => {
    // generateKeyPairSync used to make the ephemeral key: this loop hung in under 10,000 runs.
    const r = spawnSync(process.execPath, ['--max-semi-space-size=1', '--min-semi-space-size=1', '--import', 'tsx', 'test/fixtures/scripts/wrap-loop.ts', '30000'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.signal, null, 'the encrypting loop hung (killed after 60 s)');
    assert.equal(r.stdout, 'done', r.stderr);
  });


  const alice = generateIdentity();
  const bob = generateIdentity();

  test('round-trips every size around the chunk boundaries, to several recipients', () => {
    for (const size of SIZES) {
      const plaintext = randomBytes(size);
      const file = encrypt(plaintext, [alice.recipient, bob.recipient]);
      assert.equal(file.length > size + 16, true);
      assert.ok(bytesEqual(decrypt(file, [alice.identity]), plaintext), `size ${size}`);
      assert.ok(bytesEqual(decrypt(file, [bob.identity]), plaintext), `size ${size}`);
    }
  });

  test('a wrong identity is no_identity_matched and its message carries no secret', () => {
    const secret = 'PASSWORD=hunter2';
    const file = encrypt(Buffer.from(secret), [alice.recipient]);
    const wrong = generateIdentity().identity;
    try {
      decrypt(file, [wrong]);
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof AgeError);
      assert.equal(err.kind, 'no_identity_matched');
      assert.ok(!err.message.includes('hunter2') && !err.message.includes(wrong.slice(16, 40)));
    }
    assert.equal(ageKind(() => decrypt(file, [])), 'no_identity_matched');
  });

  test('every truncation of a small file is rejected', () => {
    const file = encrypt(Buffer.from('KEY=value\n'), [alice.recipient]);
    for (let n = 0; n < file.length; n++) {
      const kind = ageKind(() => decrypt(file.subarray(0, n), [alice.identity]));
      assert.ok(['truncated', 'header', 'payload'].includes(kind), `cut at ${n}: ${kind}`);
    }
  });

  test('a file cut at a chunk boundary is reported as truncated', () => {
    const file = encrypt(randomBytes(CHUNK + 1), [alice.recipient]);
    const cut = file.subarray(0, file.length - 17);
    assert.equal(ageKind(() => decrypt(cut, [alice.identity])), 'truncated');
  });

  test('appending data after the final chunk is rejected', () => {
    const file = encrypt(randomBytes(100), [alice.recipient]);
    for (const extra of [1, 16, 17, CHUNK + 16]) {
      const longer = Buffer.concat([file, randomBytes(extra)]);
      assert.ok(['payload', 'truncated'].includes(ageKind(() => decrypt(longer, [alice.identity]))));
    }
  });

  test('encrypting to nothing or to a malformed recipient fails', () => {
    assert.equal(ageKind(() => encrypt(new Uint8Array(1), [])), 'bad_key');
    assert.equal(ageKind(() => encrypt(new Uint8Array(1), ['age1nope'])), 'bad_key');
  });

  test('property: decrypt(encrypt(x)) === x', () => {
    const plaintexts = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ minLength: CHUNK - 2, maxLength: CHUNK + 2 }),
      fc.uint8Array({ minLength: 2 * CHUNK - 1, maxLength: 2 * CHUNK + 1 }),
    );
    fc.assert(
      fc.property(plaintexts, (x) => bytesEqual(decrypt(encrypt(x, [alice.recipient]), [alice.identity]), x)),
      { numRuns: 60 },
    );
  });

  test('property: changing any byte of the file makes decrypt throw', () => {
    const cases = fc.record({
      x: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: CHUNK, maxLength: CHUNK + 40 })),
      at: fc.nat(),
      mask: fc.integer({ min: 1, max: 255 }),
    });
    fc.assert(
      fc.property(cases, ({ x, at, mask }) => {
        const file = encrypt(x, [alice.recipient]);
        // Half the cases land in the header, where the parser does the most work.
        const i = at % 2 === 0 ? (at >> 1) % 200 : (at >> 1) % file.length;
        file[i]! ^= mask;
        assert.throws(() => decrypt(file, [alice.identity]), AgeError);
      }),
      { numRuns: 300 },
    );
  });

  test('the native and pure-JS backends read each other\'s files', async () => {
    await preloadNoble();
    const noble = nobleAead();
    try {
      for (const size of SIZES) {
        const x = randomBytes(size);
        useAead(noble);
        const a = encrypt(x, [alice.recipient]);
        useAead(nativeAead);
        assert.ok(bytesEqual(decrypt(a, [alice.identity]), x));
        const b = encrypt(x, [alice.recipient]);
        useAead(noble);
        assert.ok(bytesEqual(decrypt(b, [alice.identity]), x));
      }
    } finally {
      useAead(undefined);
    }
  });

  test('without a native ChaCha20-Poly1305 the pure-JS backend is picked', async () => {
    await preloadNoble();
    const original = crypto.createCipheriv;
    let refused = 0;
    const missing = ((algorithm: string, ...rest: unknown[]) => {
      if (algorithm === 'chacha20-poly1305' && ++refused) throw Object.assign(new Error('Unknown cipher'), { code: 'ERR_CRYPTO_UNKNOWN_CIPHER' });
      return (original as (...args: unknown[]) => unknown)(algorithm, ...rest);
    }) as typeof crypto.createCipheriv;
    crypto.createCipheriv = missing;
    syncBuiltinESMExports();
    try {
      useAead(undefined);
      const x = randomBytes(70000);
      assert.ok(bytesEqual(decrypt(encrypt(x, [alice.recipient]), [alice.identity]), x));
      assert.equal(refused, 1, 'one probe, then never asked again');
    } finally {
      crypto.createCipheriv = original;
      syncBuiltinESMExports();
      useAead(undefined);
    }
  });
});

// --- The bundled build --------------------------------------------------------

test('in a CJS bundle, noble is reached through a lazy require()', async () => {
  const { build } = await import('esbuild');
  const dir = tempDir('lsm-age-');
  const outfile = join(dir, 'age.cjs');
  const result = await build({ entryPoints: ['src/age/age.ts'], outfile, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'silent' });
  assert.deepEqual(result.warnings, []);
  const script = `
    const age = require(${JSON.stringify(outfile)});
    age.useAead(age.nobleAead());
    const { identity, recipient } = age.generateIdentity();
    const x = Buffer.from('lazy noble');
    process.stdout.write(Buffer.from(age.decrypt(age.encrypt(x, [recipient]), [identity])).toString());`;
  assert.equal(execFileSync(process.execPath, ['-e', script]).toString(), 'lazy noble');
  assert.doesNotMatch(readFileSync(outfile, 'utf8'), /import_meta/);
});

// --- Interop with the age CLI ---------------------------------------------------

const ageMissing = spawnSync('age', ['--version']).error !== undefined;
const SKIP_AGE = ageMissing ? 'the age CLI is not on PATH' : false;

describe('interop with the age CLI', { skip: SKIP_AGE }, () => {
  const run = (cmd: string, args: string[], input?: Uint8Array) =>
    execFileSync(cmd, args, { input, maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
  const dir = tempDir('lsm-age-cli-');
  const keyFile = join(dir, 'key.txt');
  let identity: string;
  let recipient: string;

  before(() => {
    run('age-keygen', ['-o', keyFile]);
    identity = readFileSync(keyFile, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
    recipient = run('age-keygen', ['-y', keyFile]).toString().trim();
  });

  test('age-keygen identities parse and give the same recipient as age-keygen -y', () => {
    assert.equal(identityToRecipient(identity), recipient);
    for (let i = 0; i < 5; i++) {
      const file = join(dir, `k${i}.txt`);
      run('age-keygen', ['-o', file]);
      const id = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
      assert.equal(identityToRecipient(id), run('age-keygen', ['-y', file]).toString().trim());
    }
  });

  test('our keys work with age, theirs with us', () => {
    const ours = generateIdentity();
    const ourKey = join(dir, 'ours.txt');
    writeFileSync(ourKey, `# created by lsm test\n${ours.identity}\n`);
    assert.equal(run('age-keygen', ['-y', ourKey]).toString().trim(), ours.recipient);
  });

  for (const size of SIZES) {
    test(`${size} bytes: lsm -> age -d, age -r / -e -i / -a -> lsm`, () => {
      const x = randomBytes(size);
      const file = join(dir, `lsm-${size}.age`);
      writeFileSync(file, encrypt(x, [recipient]));
      assert.ok(bytesEqual(run('age', ['-d', '-i', keyFile, file]), x), 'age -d on our file');

      assert.ok(bytesEqual(decrypt(run('age', ['-r', recipient], x), [identity]), x), 'age -r');
      assert.ok(bytesEqual(decrypt(run('age', ['-e', '-i', keyFile], x), [identity]), x), 'age -e -i');
      const armored = run('age', ['-a', '-r', recipient], x);
      assert.match(armored.subarray(0, 40).toString(), /^-----BEGIN AGE ENCRYPTED FILE-----/);
      assert.ok(bytesEqual(decrypt(armored, [identity]), x), 'age -a');
    });
  }

  test('age rejects our file under a wrong key, and accepts any of several recipients', () => {
    const other = generateIdentity();
    const otherKey = join(dir, 'other.txt');
    writeFileSync(otherKey, other.identity + '\n');
    const file = join(dir, 'multi.age');
    writeFileSync(file, encrypt(Buffer.from('shared'), [other.recipient, recipient]));
    assert.equal(run('age', ['-d', '-i', keyFile, file]).toString(), 'shared');
    assert.equal(run('age', ['-d', '-i', otherKey, file]).toString(), 'shared');
    const solo = join(dir, 'solo.age');
    writeFileSync(solo, encrypt(Buffer.from('x'), [recipient]));
    assert.notEqual(spawnSync('age', ['-d', '-i', otherKey, solo]).status, 0);
  });
});

// --- Differential against typage (age-encryption) -----------------------------------

describe('differential against age-encryption (typage)', () => {
  test('identities map to the same recipients', async () => {
    for (let i = 0; i < 5; i++) {
      const theirs = await typage.generateX25519Identity();
      assert.equal(identityToRecipient(theirs), await typage.identityToRecipient(theirs));
      const ours = generateIdentity();
      assert.equal(await typage.identityToRecipient(ours.identity), ours.recipient);
    }
  });

  test('files cross both ways, binary and armored', async (t: TestContext) => {
    const theirs = await typage.generateX25519Identity();
    const theirRecipient = await typage.identityToRecipient(theirs);
    for (const size of SIZES) {
      const x = randomBytes(size);
      const d = new typage.Decrypter();
      d.addIdentity(theirs);
      assert.ok(bytesEqual(await d.decrypt(encrypt(x, [theirRecipient])), x), `typage reads ours, ${size}`);

      const e = new typage.Encrypter();
      e.addRecipient(theirRecipient);
      const file = await e.encrypt(x);
      assert.ok(bytesEqual(decrypt(file, [theirs]), x), `we read typage's, ${size}`);
      const armored = Buffer.from(`\n  ${typage.armor.encode(file).replaceAll('\n', '\r\n')}\n`);
      assert.ok(bytesEqual(decrypt(armored, [theirs]), x), `we read typage's armor, ${size}`);
    }
    t.diagnostic(`crossed ${SIZES.length} sizes each way`);
  });
});
