/**
 * What went wrong, coarse enough for the store to pick a user message:
 * - no_identity_matched: none of the identities can open the file (wrong key);
 * - header, payload, armor, truncated: the file is corrupt, modified or cut short;
 * - bad_key: a key string is malformed;
 * - bad_passphrase: the passphrase does not open a passphrase-encrypted file;
 * - unsupported: valid age, but not handled here (post-quantum or plugin keys,
 *   other format versions, a passphrase file given to identities).
 */
export type AgeErrorKind =
  | 'no_identity_matched'
  | 'header'
  | 'payload'
  | 'armor'
  | 'truncated'
  | 'bad_key'
  | 'bad_passphrase'
  | 'unsupported';

/**
 * The one error type of src/age. Messages describe structure only: they never
 * carry key material, plaintext or the offending input.
 */
export class AgeError extends Error {
  readonly kind: AgeErrorKind;

  constructor(kind: AgeErrorKind, message: string) {
    super(message);
    this.name = 'AgeError';
    this.kind = kind;
  }
}
