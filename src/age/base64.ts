import { Buffer } from 'node:buffer';

const UNPADDED = /^[A-Za-z0-9+/]*$/;
const PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeUnpadded(bytes: Uint8Array): string {
  return view(bytes).toString('base64').replace(/=+$/, '');
}

export function encodePadded(bytes: Uint8Array): string {
  return view(bytes).toString('base64');
}

// The age header wants canonical unpadded base64, but Node's decoder is lenient
// (it skips junk and ignores non-zero trailing bits): a value is accepted only if
// it re-encodes to exactly the same text.
export function decodeUnpadded(text: string): Uint8Array | undefined {
  if (!UNPADDED.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return encodeUnpadded(bytes) === text ? bytes : undefined;
}

// The armor wants canonical padded base64; same re-encoding rule.
export function decodePadded(text: string): Uint8Array | undefined {
  if (!PADDED.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return encodePadded(bytes) === text ? bytes : undefined;
}
