import { randomBytes } from 'node:crypto';
import { hkdf32 } from './hkdf.js';
import { aead, TAG_SIZE } from './aead.js';
import { AgeError } from './error.js';

// STREAM (age spec, "Payload"): a 16-byte nonce, then 64 KiB chunks sealed under
// a key derived from file key and nonce, each with its own 12-byte AEAD nonce.
const NONCE_SIZE = 16;
const CHUNK = 64 * 1024;
const SEALED_CHUNK = CHUNK + TAG_SIZE;

function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  return hkdf32(fileKey, nonce, 'payload');
}

// The final flag binds the end of the stream, so a file cut at a chunk boundary
// does not authenticate.
function chunkNonce(index: number, final: boolean): Uint8Array {
  const nonce = new Uint8Array(12);
  for (let i = 10, n = index; n > 0; i--, n = Math.floor(n / 256)) nonce[i] = n % 256;
  nonce[11] = final ? 1 : 0;
  return nonce;
}

export function encryptPayload(fileKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const chunks = Math.max(1, Math.ceil(plaintext.length / CHUNK));
  const out = new Uint8Array(NONCE_SIZE + plaintext.length + chunks * TAG_SIZE);
  const nonce = randomBytes(NONCE_SIZE);
  out.set(nonce);
  const key = payloadKey(fileKey, nonce);
  const cipher = aead();
  for (let i = 0; i < chunks; i++) {
    const piece = plaintext.subarray(i * CHUNK, (i + 1) * CHUNK);
    out.set(cipher.seal(key, chunkNonce(i, i === chunks - 1), piece), NONCE_SIZE + i * SEALED_CHUNK);
  }
  return out;
}

export function decryptPayload(fileKey: Uint8Array, payload: Uint8Array): Uint8Array {
  if (payload.length < NONCE_SIZE) throw new AgeError('truncated', 'file ends before the payload nonce');
  const sealed = payload.subarray(NONCE_SIZE);
  if (sealed.length === 0) throw new AgeError('truncated', 'payload has no chunks');
  const chunks = Math.ceil(sealed.length / SEALED_CHUNK);
  const lastSize = sealed.length - (chunks - 1) * SEALED_CHUNK;
  if (lastSize < TAG_SIZE) throw new AgeError('truncated', 'payload ends inside a chunk');
  // An empty final chunk is allowed only for an empty payload, so that every
  // plaintext has exactly one valid encoding.
  if (lastSize === TAG_SIZE && chunks > 1) throw new AgeError('payload', 'payload ends with an empty chunk');
  const key = payloadKey(fileKey, payload.subarray(0, NONCE_SIZE));
  const cipher = aead();
  const out = new Uint8Array(sealed.length - chunks * TAG_SIZE);
  for (let i = 0; i < chunks; i++) {
    const final = i === chunks - 1;
    const chunk = sealed.subarray(i * SEALED_CHUNK, (i + 1) * SEALED_CHUNK);
    const plain = cipher.open(key, chunkNonce(i, final), chunk);
    if (plain === undefined) {
      // Nothing is released on failure, and no partial plaintext is left behind.
      out.fill(0);
      // A full last chunk that opens as non-final means the file was cut short.
      const cut = final && chunk.length === SEALED_CHUNK && cipher.open(key, chunkNonce(i, false), chunk) !== undefined;
      throw cut
        ? new AgeError('truncated', 'payload is truncated: the final chunk is missing')
        : new AgeError('payload', `payload chunk ${i} failed to authenticate`);
    }
    out.set(plain, i * CHUNK);
  }
  return out;
}
