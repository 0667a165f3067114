import { Buffer } from 'node:buffer';
import { decodePadded } from './base64.js';
import { AgeError } from './error.js';

const BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const END = '-----END AGE ENCRYPTED FILE-----';
const COLUMNS = 64;
const BINARY_MAGIC = 'age-encryption.org/';

// A binary age file starts with its version line. Input that is a prefix of it
// (an empty or cut file) counts as binary, so it reports as truncated rather than
// as bad armor; anything else is read as armor.
export function isBinary(file: Uint8Array): boolean {
  const n = Math.min(file.length, BINARY_MAGIC.length);
  for (let i = 0; i < n; i++) if (file[i] !== BINARY_MAGIC.charCodeAt(i)) return false;
  return true;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

const armorError = (why: string) => new AgeError('armor', `invalid ASCII armor: ${why}`);

// Strict PEM (RFC 7468, section 3) as the age spec asks, so that armor adds no
// malleability: whitespace only around the block, CRLF or LF, 64-column lines,
// canonical base64.
export function dearmor(file: Uint8Array): Uint8Array {
  let start = 0;
  let end = file.length;
  while (start < end && isSpace(file[start]!)) start++;
  while (end > start && isSpace(file[end - 1]!)) end--;
  const text = Buffer.from(file.buffer, file.byteOffset + start, end - start).toString('latin1');
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines[0] !== BEGIN) throw armorError('missing BEGIN line');
  if (lines.length < 2 || lines[lines.length - 1] !== END) throw armorError('missing END line');
  const body = lines.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const line = body[i]!;
    const last = i === body.length - 1;
    if (last ? line.length === 0 || line.length > COLUMNS : line.length !== COLUMNS) {
      throw armorError('bad line length');
    }
  }
  const bytes = decodePadded(body.join(''));
  if (bytes === undefined) throw armorError('not canonical base64');
  return bytes;
}
