import type { Aead } from './aead.js';
import { AgeError } from './error.js';

type Chacha = typeof import('@noble/ciphers/chacha.js');

let chacha: Chacha | undefined;

/**
 * Loads @noble/ciphers ahead of use, for ES module hosts where `require` is not
 * defined (tsx, plain Node ESM). The bundled CJS build and Bun never need it.
 */
export async function preloadNoble(): Promise<void> {
  chacha ??= await import('@noble/ciphers/chacha.js');
}

function load(): Chacha {
  if (chacha !== undefined) return chacha;
  // A literal require() keeps noble out of start-up: esbuild bundles it behind a
  // lazy initializer that runs only when this line does.
  if (typeof require === 'function') return (chacha = require('@noble/ciphers/chacha.js') as Chacha);
  throw new AgeError('unsupported', 'no ChaCha20-Poly1305 implementation is available');
}

/** The pure-JS backend, for runtimes whose node:crypto lacks ChaCha20-Poly1305. */
export function nobleAead(): Aead {
  const { chacha20poly1305 } = load();
  return {
    name: 'noble',
    seal: (key, nonce, plaintext) => chacha20poly1305(key, nonce).encrypt(plaintext),
    open(key, nonce, sealed) {
      try {
        return chacha20poly1305(key, nonce).decrypt(sealed);
      } catch {
        return undefined;
      }
    },
  };
}
