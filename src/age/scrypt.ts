import { Buffer } from 'node:buffer';
import { randomBytes, scryptSync } from 'node:crypto';
import { aead } from './aead.js';
import { decodeUnpadded, encodeUnpadded } from './base64.js';
import { AgeError } from './error.js';
import type { Stanza } from './header.js';

const LABEL = 'age-encryption.org/v1/scrypt';
const SALT_SIZE = 16;
const FILE_KEY_SIZE = 16;
const TAG_SIZE = 16;
// The age CLI's own bounds: it writes 18 and refuses to read above 22.
export const DEFAULT_LOG_N = 18;
export const MAX_LOG_N = 22;
const DECIMAL = /^[1-9][0-9]*$/;

// scrypt needs 128·N·r bytes; node:crypto refuses anything above maxmem (32 MiB by
// default, less than logN 18 takes), so the bound is given explicitly with headroom.
function wrappingKey(passphrase: string, salt: Uint8Array, logN: number): Uint8Array {
  const N = 2 ** logN;
  const r = 8;
  const key = scryptSync(Buffer.from(passphrase, 'utf8'), Buffer.concat([Buffer.from(LABEL, 'latin1'), salt]), 32, {
    N, r, p: 1, maxmem: 128 * N * r + 16 * 1024 * 1024,
  });
  return new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
}

/** The one stanza of a passphrase-encrypted file. */
export function scryptStanza(fileKey: Uint8Array, passphrase: string, logN: number): Stanza {
  if (!Number.isInteger(logN) || logN < 1 || logN > MAX_LOG_N) throw new AgeError('bad_key', `scrypt work factor must be 1..${MAX_LOG_N}`);
  const salt = randomBytes(SALT_SIZE);
  const key = wrappingKey(passphrase, salt, logN);
  try {
    return { args: ['scrypt', encodeUnpadded(salt), String(logN)], body: aead().seal(key, new Uint8Array(12), fileKey) };
  } finally {
    key.fill(0);
  }
}

/**
 * The file key the passphrase unwraps. Malformed stanzas fail as 'header' before any
 * scrypt is run (a work factor above maxLogN too: it would cost the reader unbounded
 * time and memory); a passphrase that does not open the stanza fails as 'bad_passphrase'.
 */
export function unwrapScrypt(stanza: Stanza, passphrase: string, maxLogN: number): Uint8Array {
  const bad = (why: string) => new AgeError('header', `invalid scrypt stanza: ${why}`);
  if (stanza.args.length !== 3) throw bad('wrong number of arguments');
  const salt = decodeUnpadded(stanza.args[1]!);
  if (salt?.length !== SALT_SIZE) throw bad('malformed salt');
  const factor = stanza.args[2]!;
  if (!DECIMAL.test(factor) || factor.length > 2) throw bad('malformed work factor');
  const logN = Number(factor);
  if (logN > maxLogN) throw new AgeError('header', `scrypt work factor ${logN} is above the limit ${maxLogN}`);
  if (stanza.body.length !== FILE_KEY_SIZE + TAG_SIZE) throw bad('wrong body length');
  const key = wrappingKey(passphrase, salt, logN);
  try {
    const fileKey = aead().open(key, new Uint8Array(12), stanza.body);
    if (fileKey === undefined) throw new AgeError('bad_passphrase', 'wrong passphrase (or the file was modified)');
    return fileKey;
  } finally {
    key.fill(0);
  }
}
