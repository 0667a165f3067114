import { randomBytes } from 'node:crypto';
import { dearmor, isBinary } from './armor.js';
import { AgeError } from './error.js';
import { encodeHeader, parseHeader, verifyMac, type Stanza } from './header.js';
import { decryptPayload, encryptPayload } from './stream.js';
import { X25519Identity, X25519Recipient, x25519Stanza } from './x25519.js';

export { AgeError, type AgeErrorKind } from './error.js';
export { X25519Identity, X25519Recipient } from './x25519.js';
export { useAead, nativeAead, type Aead } from './aead.js';
export { nobleAead, preloadNoble } from './noble.js';

/** Generates a new X25519 key pair: an AGE-SECRET-KEY-1... identity and its age1... recipient. */
export function generateIdentity(): { identity: string; recipient: string } {
  return X25519Identity.generate();
}

/** Parses an AGE-SECRET-KEY-1... identity; throws AgeError 'bad_key' or 'unsupported'. */
export function parseIdentity(identity: string): X25519Identity {
  return X25519Identity.parse(identity);
}

/** Parses an age1... recipient; throws AgeError 'bad_key' or 'unsupported'. */
export function parseRecipient(recipient: string): X25519Recipient {
  return X25519Recipient.parse(recipient);
}

/** The age1... recipient of an AGE-SECRET-KEY-1... identity. */
export function identityToRecipient(identity: string): string {
  return X25519Identity.parse(identity).recipient;
}

/** Encrypts to one or more X25519 recipients; returns a binary (not armored) age file. */
export function encrypt(plaintext: Uint8Array, recipients: ReadonlyArray<string | X25519Recipient>): Uint8Array {
  if (recipients.length === 0) throw new AgeError('bad_key', 'no recipients to encrypt to');
  const parsed = recipients.map((r) => (typeof r === 'string' ? X25519Recipient.parse(r) : r));
  return seal(plaintext, (fileKey) => parsed.map((r) => r.wrap(fileKey)));
}

/** An age file whose header holds the stanzas made from its file key (passphrase.ts uses it). */
export function seal(plaintext: Uint8Array, stanzas: (fileKey: Uint8Array) => Stanza[]): Uint8Array {
  const fileKey = randomBytes(16);
  try {
    const header = encodeHeader(fileKey, stanzas(fileKey));
    const payload = encryptPayload(fileKey, plaintext);
    const out = new Uint8Array(header.length + payload.length);
    out.set(header);
    out.set(payload, header.length);
    return out;
  } finally {
    fileKey.fill(0);
  }
}

/**
 * Decrypts a binary or ASCII-armored age file with any of the given identities.
 * All or nothing: no plaintext is returned unless the whole file authenticates.
 * Throws AgeError: 'no_identity_matched' (wrong key), 'header' / 'payload' /
 * 'armor' / 'truncated' (corrupt or cut file), 'bad_key', 'unsupported'.
 */
export function decrypt(file: Uint8Array, identities: ReadonlyArray<string | X25519Identity>): Uint8Array {
  const keys = identities.map((i) => (typeof i === 'string' ? X25519Identity.parse(i) : i));
  const bytes = isBinary(file) ? file : dearmor(file);
  const header = parseHeader(bytes);
  const fileKey = unwrap(header.stanzas, keys);
  try {
    verifyMac(fileKey, header);
    return decryptPayload(fileKey, bytes.subarray(header.payloadStart));
  } finally {
    fileKey.fill(0);
  }
}

function unwrap(stanzas: Stanza[], identities: X25519Identity[]): Uint8Array {
  // As in the reference implementation: a passphrase file must have its scrypt
  // stanza alone, or whoever knows the passphrase cannot trust the sender set.
  const scrypt = stanzas.some((s) => s.args[0] === 'scrypt');
  if (scrypt && stanzas.length > 1) throw new AgeError('header', 'invalid header: scrypt stanza mixed with others');
  // Every X25519 stanza is validated up front, before any key is tried.
  const candidates = stanzas.map(x25519Stanza).filter((s) => s !== undefined);
  for (const stanza of candidates) {
    for (const identity of identities) {
      const fileKey = identity.unwrap(stanza);
      if (fileKey !== undefined) return fileKey;
    }
  }
  if (scrypt) throw new AgeError('unsupported', 'the file is passphrase-encrypted: it opens with a passphrase, not an identity');
  throw new AgeError('no_identity_matched', 'no identity matched any of the recipients');
}
