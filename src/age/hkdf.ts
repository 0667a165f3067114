import { createHmac } from 'node:crypto';

/**
 * HKDF-SHA256 (RFC 5869) with one block of output: age only ever derives 32-byte keys.
 * Written on HMAC because node:crypto's hkdfSync sets up a crypto job and a key object
 * on first use, about 0.3 ms of every `lsm get`, which derives three keys; extract and
 * one expand step are two HMACs. The CCTV vectors and the age CLI interop prove it.
 */
export function hkdf32(ikm: Uint8Array, salt: Uint8Array, info: string): Uint8Array {
  // An empty salt is HashLen zero bytes (RFC 5869 2.2): HMAC pads an empty key to the same block.
  const prk = createHmac('sha256', salt).update(ikm).digest();
  const okm = createHmac('sha256', prk).update(info, 'utf8').update(ONE).digest();
  return new Uint8Array(okm.buffer, okm.byteOffset, okm.byteLength);
}

const ONE = new Uint8Array([1]);
