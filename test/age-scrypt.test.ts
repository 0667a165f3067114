import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import * as vectors from 'cctv-age';
import * as typage from 'age-encryption';
import { AgeError, decrypt, encrypt, generateIdentity, type AgeErrorKind } from '../src/age/age.js';
import { decryptWithPassphrase, encryptWithPassphrase, isPassphraseFile } from '../src/age/passphrase.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

function ageKind(fn: () => unknown): AgeErrorKind {
  try {
    fn();
  } catch (err) {
    if (err instanceof AgeError) return err.kind;
    throw err;
  }
  assert.fail('expected an AgeError');
}

interface Vector { expect: string; payload?: string; passphrases: string[]; identities: string[]; file: Uint8Array }

function parseVector(raw: Uint8Array): Vector {
  const v: Vector = { expect: '', passphrases: [], identities: [], file: raw };
  let pos = 0;
  let compressed = false;
  for (;;) {
    const end = raw.indexOf(0x0a, pos);
    const line = Buffer.from(raw.subarray(pos, end)).toString('utf8');
    pos = end + 1;
    if (line === '') break;
    const [key, value = ''] = line.split(': ', 2) as [string, string?];
    if (key === 'expect') v.expect = value;
    else if (key === 'payload') v.payload = value;
    else if (key === 'passphrase') v.passphrases.push(value);
    else if (key === 'identity') v.identities.push(value);
    else if (key === 'compressed') compressed = value === 'zlib';
  }
  v.file = compressed ? inflateSync(raw.subarray(pos)) : raw.subarray(pos);
  return v;
}

// What each CCTV expectation may look like from decryptWithPassphrase.
const EXPECTED: Record<string, AgeErrorKind[]> = {
  'no match': ['bad_passphrase', 'no_identity_matched'],
  'HMAC failure': ['header'],
  'header failure': ['header', 'unsupported', 'truncated'],
  'payload failure': ['payload', 'truncated'],
  'armor failure': ['armor'],
};

describe('CCTV passphrase vectors', () => {
  test('every scrypt vector decrypts or fails exactly as expected (work factor limit 22)', (t) => {
    let ok = 0;
    let rejected = 0;
    const unexpected: string[] = [];
    for (const [name, raw] of Object.entries(vectors)) {
      if (!(raw instanceof Uint8Array)) continue;
      const v = parseVector(raw);
      if (v.passphrases.length === 0) continue;
      // A vector may list several passphrases (scrypt_double): any one of them.
      let out: Uint8Array | undefined;
      let error: unknown;
      for (const p of v.passphrases) {
        try {
          out = decryptWithPassphrase(v.file, p, 22);
          error = undefined;
          break;
        } catch (err) {
          error = err;
        }
      }
      if (v.expect === 'success') {
        if (out !== undefined && sha256(out) === v.payload) ok++;
        else unexpected.push(`${name}: expected success, got ${String(error)}`);
        continue;
      }
      const kinds = EXPECTED[v.expect];
      assert.ok(kinds, `${name}: unknown expectation ${v.expect}`);
      if (error instanceof AgeError && kinds.includes(error.kind)) rejected++;
      else unexpected.push(`${name}: expected ${v.expect}, got ${error === undefined ? 'success' : String(error)}`);
    }
    t.diagnostic(`${ok} scrypt vectors decrypted, ${rejected} expected failures rejected`);
    assert.deepEqual(unexpected, []);
    assert.equal(ok, 2); // scrypt, armor_scrypt
    assert.ok(rejected >= 24, `rejected ${rejected}`);
  });

  test('the wrong passphrase and a flipped tag are bad_passphrase, not a parse error', () => {
    const named = vectors as Record<string, Uint8Array>;
    assert.equal(ageKind(() => decryptWithPassphrase(parseVector(named.scrypt!).file, 'wrong')), 'bad_passphrase');
    assert.equal(ageKind(() => decryptWithPassphrase(parseVector(named.scrypt_bad_tag!).file, 'password')), 'bad_passphrase');
  });

  test('the work factor limit is checked before scrypt runs', () => {
    const v = parseVector((vectors as Record<string, Uint8Array>).scrypt!); // logN 10
    assert.equal(text(decryptWithPassphrase(v.file, 'password', 10)).length > 0, true);
    const err = (() => { try { decryptWithPassphrase(v.file, 'password', 9); } catch (e) { return e; } })();
    assert.ok(err instanceof AgeError && err.kind === 'header' && /work factor 10 is above the limit 9/.test(err.message), String(err));
  });
});

describe('passphrase encryption', () => {
  test('round trip; a wrong passphrase fails with bad_passphrase and returns nothing', () => {
    const file = encryptWithPassphrase(Buffer.from('canary-7f3a'), 'correct horse', 10);
    assert.ok(isPassphraseFile(file));
    assert.equal(text(decryptWithPassphrase(file, 'correct horse')), 'canary-7f3a');
    const e = (() => { try { decryptWithPassphrase(file, 'Correct horse'); } catch (err) { return err; } })();
    assert.ok(e instanceof AgeError && e.kind === 'bad_passphrase');
    assert.doesNotMatch(String(e), /canary|horse/);
  });

  test('the header has exactly one scrypt stanza with a 16-byte salt and the work factor', () => {
    const file = encryptWithPassphrase(Buffer.from('x'), 'p', 12);
    const lines = Buffer.from(file).toString('latin1').split('\n');
    assert.equal(lines[0], 'age-encryption.org/v1');
    const stanzas = lines.filter((l) => l.startsWith('-> '));
    assert.equal(stanzas.length, 1);
    const m = /^-> scrypt ([A-Za-z0-9+/]{22}) 12$/.exec(stanzas[0]!);
    assert.ok(m, stanzas[0]);
    assert.equal(Buffer.from(m[1]!, 'base64').length, 16);
    assert.equal(Buffer.from(file).indexOf('-> scrypt'), Buffer.from(file).lastIndexOf('-> scrypt'));
  });

  test('an empty passphrase and an out-of-range work factor are refused', () => {
    assert.equal(ageKind(() => encryptWithPassphrase(Buffer.from('x'), '')), 'bad_key');
    assert.equal(ageKind(() => encryptWithPassphrase(Buffer.from('x'), 'p', 0)), 'bad_key');
    assert.equal(ageKind(() => encryptWithPassphrase(Buffer.from('x'), 'p', 23)), 'bad_key');
  });

  test('an X25519 file is not a passphrase file, and a passphrase file does not open with an identity', () => {
    const { identity, recipient } = generateIdentity();
    const x = encrypt(Buffer.from('x'), [recipient]);
    assert.equal(isPassphraseFile(x), false);
    assert.equal(ageKind(() => decryptWithPassphrase(x, 'p')), 'no_identity_matched');
    const p = encryptWithPassphrase(Buffer.from('x'), 'p', 10);
    assert.equal(ageKind(() => decrypt(p, [identity])), 'unsupported');
  });

  test('the default work factor is 18, as the age CLI writes', () => {
    const file = encryptWithPassphrase(Buffer.from('x'), 'p');
    assert.match(Buffer.from(file).toString('latin1'), /\n-> scrypt \S+ 18\n/);
    assert.equal(text(decryptWithPassphrase(file, 'p')), 'x');
  });
});

describe('typage interop (passphrase)', () => {
  test('typage opens our file, and we open typage\'s (binary and armored)', async () => {
    const ours = encryptWithPassphrase(Buffer.from('from lsm'), 'pass phrase ü', 12);
    const d = new typage.Decrypter();
    d.addPassphrase('pass phrase ü');
    assert.equal(await d.decrypt(ours, 'text'), 'from lsm');

    const e = new typage.Encrypter();
    e.setPassphrase('pass phrase ü');
    e.setScryptWorkFactor(12);
    const theirs = await e.encrypt('from typage');
    assert.equal(text(decryptWithPassphrase(theirs, 'pass phrase ü')), 'from typage');
    const armored = typage.armor.encode(theirs);
    assert.equal(text(decryptWithPassphrase(Buffer.from(armored), 'pass phrase ü')), 'from typage');
    assert.equal(ageKind(() => decryptWithPassphrase(theirs, 'other')), 'bad_passphrase');
  });

  test('typage refuses our file with the wrong passphrase', async () => {
    const ours = encryptWithPassphrase(Buffer.from('x'), 'right', 10);
    const d = new typage.Decrypter();
    d.addPassphrase('wrong');
    await assert.rejects(d.decrypt(ours));
  });
});
