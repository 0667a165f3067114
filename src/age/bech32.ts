import { AgeError } from './error.js';

// BIP173 Bech32, minus its 90-character limit (the age spec drops it).
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i]!;
  }
  return chk;
}

function hrpExpand(hrp: string): number[] {
  const codes = Array.from(hrp, (c) => c.charCodeAt(0));
  return [...codes.map((c) => c >> 5), 0, ...codes.map((c) => c & 31)];
}

function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | undefined {
  const out: number[] = [];
  const max = (1 << to) - 1;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < data.length; i++) {
    acc = ((acc << from) | data[i]!) & 0xffff;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & max);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || ((acc << (to - bits)) & max) !== 0) {
    // Padding must be shorter than one input group and all zero, so that every
    // byte string has exactly one encoding.
    return undefined;
  }
  return out;
}

// The checksum is always computed over the lowercase form; the output takes the
// HRP's case, as identities are written in uppercase.
export function bech32Encode(hrp: string, bytes: Uint8Array): string {
  const lower = hrp.toLowerCase();
  const data = convertBits(bytes, 8, 5, true)!;
  const mod = polymod([...hrpExpand(lower), ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  let out = lower + '1';
  for (const d of data) out += CHARSET[d];
  for (let i = 0; i < 6; i++) out += CHARSET[(mod >>> (5 * (5 - i))) & 31];
  return hrp === lower ? out : out.toUpperCase();
}

// The HRP keeps its written case so that callers can insist on it.
export function bech32Decode(text: string): { hrp: string; bytes: Uint8Array } {
  const bad = (why: string) => new AgeError('bad_key', `malformed key: ${why}`);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 33 || c > 126) throw bad('invalid character');
  }
  const lower = text.toLowerCase();
  if (text !== lower && text !== text.toUpperCase()) throw bad('mixed case');
  const sep = text.lastIndexOf('1');
  if (sep < 1 || sep + 7 > text.length) throw bad('missing separator or checksum');
  const data: number[] = [];
  for (const c of lower.slice(sep + 1)) {
    const d = CHARSET.indexOf(c);
    if (d < 0) throw bad('invalid character');
    data.push(d);
  }
  if (polymod([...hrpExpand(lower.slice(0, sep)), ...data]) !== 1) throw bad('invalid checksum');
  const bytes = convertBits(data.slice(0, -6), 5, 8, false);
  if (bytes === undefined) throw bad('invalid padding');
  return { hrp: text.slice(0, sep), bytes: Uint8Array.from(bytes) };
}
