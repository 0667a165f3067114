import { Buffer } from 'node:buffer';
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { aead } from './aead.js';
import { decodeUnpadded, encodeUnpadded } from './base64.js';
import { bech32Decode, bech32Encode } from './bech32.js';
import { hkdf32 } from './hkdf.js';
import { AgeError } from './error.js';
import type { Stanza } from './header.js';

const IDENTITY_HRP = 'AGE-SECRET-KEY-';
const RECIPIENT_HRP = 'age';
const LABEL = 'age-encryption.org/v1/X25519';
const FILE_KEY_SIZE = 16;
const KEY_SIZE = 32;

// Raw keys cross into node:crypto as JWK: parsing PKCS#8 DER costs about ten
// times more, and `lsm get` pays for one identity on every run.
const BASEPOINT = 'CQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'; // u = 9
const PKCS8_PREFIX = '302e020100300506032b656e04220420'; // RFC 8410

const base64url = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

function privateKeyObject(scalar: Uint8Array): KeyObject {
  try {
    // Node builds a private OKP key from `d` alone but insists on some `x`; the
    // public key is recomputed from the scalar, never read back from this one.
    return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: base64url(scalar), x: BASEPOINT }, format: 'jwk' });
  } catch {
    // A runtime that checks `x` against `d` takes the slower DER route.
    const der = Buffer.concat([Buffer.from(PKCS8_PREFIX, 'hex'), scalar]);
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  }
}

function publicKeyObject(point: Uint8Array | string): KeyObject {
  const x = typeof point === 'string' ? point : base64url(point);
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
}

// OpenSSL refuses to derive an all-zero secret (low-order points); the explicit
// check keeps the rule even on a runtime that would return the zeros.
function sharedSecret(privateKey: KeyObject, publicKey: KeyObject): Uint8Array | undefined {
  let secret: Uint8Array;
  try {
    secret = diffieHellman({ privateKey, publicKey });
  } catch {
    return undefined;
  }
  return secret.some((b) => b !== 0) ? secret : undefined;
}

function wrapKey(secret: Uint8Array, share: Uint8Array, recipient: Uint8Array): Uint8Array {
  return hkdf32(secret, Buffer.concat([share, recipient]), LABEL);
}

/** An age1... public key. */
export class X25519Recipient {
  readonly publicKey: Uint8Array;

  constructor(publicKey: Uint8Array) {
    if (publicKey.length !== KEY_SIZE) throw new AgeError('bad_key', 'malformed recipient: wrong key length');
    this.publicKey = publicKey;
  }

  static parse(text: string): X25519Recipient {
    const { hrp, bytes } = bech32Decode(text);
    if (hrp !== RECIPIENT_HRP) {
      if (hrp.toLowerCase().startsWith('age1')) throw new AgeError('unsupported', 'unsupported recipient type (only X25519 age1... recipients are supported)');
      throw new AgeError('bad_key', 'malformed recipient: not an age1... X25519 public key');
    }
    return new X25519Recipient(bytes);
  }

  toString(): string {
    return bech32Encode(RECIPIENT_HRP, this.publicKey);
  }

  wrap(fileKey: Uint8Array): Stanza {
    // Not generateKeyPairSync: on Node 20 a key it made can deadlock the process for
    // good. Its job's destructor, run by a GC, takes the key's mutex, and exporting the
    // key holds that mutex while it allocates (so may GC): test/age.test.ts hits it.
    const scalar = randomBytes(KEY_SIZE);
    const ephemeral = privateKeyObject(scalar);
    scalar.fill(0);
    const share = diffieHellman({ privateKey: ephemeral, publicKey: publicKeyObject(BASEPOINT) });
    const secret = sharedSecret(ephemeral, publicKeyObject(this.publicKey));
    if (secret === undefined) throw new AgeError('bad_key', 'invalid recipient: low-order public key');
    const body = aead().seal(wrapKey(secret, share, this.publicKey), new Uint8Array(12), fileKey);
    return { args: ['X25519', encodeUnpadded(share)], body };
  }
}

/**
 * An AGE-SECRET-KEY-1... private key. The scalar lives only inside a KeyObject,
 * so logging or serializing an identity cannot print it.
 */
export class X25519Identity {
  readonly #key: KeyObject;
  readonly publicKey: Uint8Array;

  private constructor(key: KeyObject) {
    this.#key = key;
    // recipient = X25519(identity, basepoint), exactly as the spec defines it.
    this.publicKey = diffieHellman({ privateKey: key, publicKey: publicKeyObject(BASEPOINT) });
  }

  static parse(text: string): X25519Identity {
    const { hrp, bytes } = bech32Decode(text);
    if (hrp !== IDENTITY_HRP) {
      if (hrp.startsWith('AGE-')) throw new AgeError('unsupported', 'unsupported identity type (only X25519 AGE-SECRET-KEY-1... keys are supported)');
      throw new AgeError('bad_key', 'malformed identity: not an uppercase AGE-SECRET-KEY-1... key');
    }
    if (bytes.length !== KEY_SIZE) throw new AgeError('bad_key', 'malformed identity: wrong key length');
    return new X25519Identity(privateKeyObject(bytes));
  }

  static generate(): { identity: string; recipient: string } {
    const scalar = randomBytes(KEY_SIZE);
    const { recipient } = new X25519Identity(privateKeyObject(scalar));
    return { identity: bech32Encode(IDENTITY_HRP, scalar), recipient };
  }

  get recipient(): string {
    return bech32Encode(RECIPIENT_HRP, this.publicKey);
  }

  /** The file key if the stanza was made for this identity, undefined if not. */
  unwrap(stanza: X25519Stanza): Uint8Array | undefined {
    const secret = sharedSecret(this.#key, publicKeyObject(stanza.share));
    if (secret === undefined) throw new AgeError('header', 'invalid X25519 stanza: low-order ephemeral share');
    return aead().open(wrapKey(secret, stanza.share, this.publicKey), new Uint8Array(12), stanza.body);
  }
}

export interface X25519Stanza {
  share: Uint8Array;
  body: Uint8Array;
}

// Stanzas of other types must be ignored, but a malformed X25519 one must fail
// the file rather than be skipped.
export function x25519Stanza(stanza: Stanza): X25519Stanza | undefined {
  if (stanza.args[0] !== 'X25519') return undefined;
  if (stanza.args.length !== 2) throw new AgeError('header', 'invalid X25519 stanza: wrong number of arguments');
  const share = decodeUnpadded(stanza.args[1]!);
  if (share?.length !== KEY_SIZE) throw new AgeError('header', 'invalid X25519 stanza: malformed ephemeral share');
  // Checked before any decryption so that the body length cannot act as an
  // oracle (partitioning attacks).
  if (stanza.body.length !== FILE_KEY_SIZE + 16) throw new AgeError('header', 'invalid X25519 stanza: wrong body length');
  return { share, body: stanza.body };
}
