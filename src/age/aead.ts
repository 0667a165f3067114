import { createCipheriv, createDecipheriv } from 'node:crypto';
import { nobleAead } from './noble.js';

/** ChaCha20-Poly1305 (RFC 8439) with a 16-byte tag appended to the ciphertext. */
export interface Aead {
  readonly name: string;
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Returns undefined when the tag does not verify. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
}

export const TAG_SIZE = 16;

export const nativeAead: Aead = {
  name: 'native',
  seal(key, nonce, plaintext) {
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_SIZE });
    const head = cipher.update(plaintext);
    const tail = cipher.final();
    const out = new Uint8Array(head.length + tail.length + TAG_SIZE);
    out.set(head, 0);
    out.set(tail, head.length);
    out.set(cipher.getAuthTag(), head.length + tail.length);
    return out;
  },
  open(key, nonce, sealed) {
    if (sealed.length < TAG_SIZE) return undefined;
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_SIZE });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    const head = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
    try {
      decipher.final();
    } catch {
      return undefined;
    }
    return head;
  },
};

let active: Aead | undefined;

// Bun (and OpenSSL builds without ChaCha) throw at cipher creation; the probe is
// a single cipher set-up, paid once on first use rather than at import.
function nativeAvailable(): boolean {
  try {
    createCipheriv('chacha20-poly1305', new Uint8Array(32), new Uint8Array(12), { authTagLength: TAG_SIZE });
    return true;
  } catch {
    return false;
  }
}

export function aead(): Aead {
  return (active ??= nativeAvailable() ? nativeAead : nobleAead());
}

/** Forces a backend (tests use it to exercise the pure-JS path); undefined restores auto-detection. */
export function useAead(impl: Aead | undefined): void {
  active = impl;
}
