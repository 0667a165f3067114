import { dearmor, isBinary } from './armor.js';
import { AgeError } from './error.js';
import { parseHeader, verifyMac } from './header.js';
import { decryptPayload } from './stream.js';
import { DEFAULT_LOG_N, MAX_LOG_N, scryptStanza, unwrapScrypt } from './scrypt.js';
import { seal } from './age.js';

// Passphrase files, apart from age.ts so that the plain get path (which loads age.ts)
// carries no scrypt code: only unlocking and protecting a home need it.

/**
 * Encrypts with a passphrase (age's scrypt recipient, alone in the header as the spec
 * requires), so `age -d` asks for it. Slow by design: 2^logN scrypt, about a second at 18.
 */
export function encryptWithPassphrase(plaintext: Uint8Array, passphrase: string, logN = DEFAULT_LOG_N): Uint8Array {
  if (passphrase === '') throw new AgeError('bad_key', 'empty passphrase');
  return seal(plaintext, (fileKey) => [scryptStanza(fileKey, passphrase, logN)]);
}

/**
 * Decrypts a passphrase-encrypted (scrypt) age file, binary or armored; all or nothing
 * like decrypt. Throws AgeError 'bad_passphrase' (wrong passphrase), 'no_identity_matched'
 * (not a passphrase file), 'header' (malformed, mixed with other stanzas, or a work
 * factor above maxLogN), and the corrupt-file kinds of decrypt.
 */
export function decryptWithPassphrase(file: Uint8Array, passphrase: string, maxLogN = MAX_LOG_N): Uint8Array {
  const bytes = isBinary(file) ? file : dearmor(file);
  const header = parseHeader(bytes);
  const stanzas = header.stanzas.filter((s) => s.args[0] === 'scrypt');
  if (stanzas.length === 0) throw new AgeError('no_identity_matched', 'the file is not passphrase-encrypted');
  if (header.stanzas.length > 1) throw new AgeError('header', 'invalid header: scrypt stanza mixed with others');
  const fileKey = unwrapScrypt(stanzas[0]!, passphrase, maxLogN);
  try {
    verifyMac(fileKey, header);
    return decryptPayload(fileKey, bytes.subarray(header.payloadStart));
  } finally {
    fileKey.fill(0);
  }
}

/** True when the file is passphrase-encrypted (its header holds a scrypt stanza); reads the header only. */
export function isPassphraseFile(file: Uint8Array): boolean {
  try {
    const bytes = isBinary(file) ? file : dearmor(file);
    return parseHeader(bytes).stanzas.some((s) => s.args[0] === 'scrypt');
  } catch {
    return false;
  }
}

