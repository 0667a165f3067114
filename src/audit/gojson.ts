/**
 * JSON exactly as Go's encoding/json writes it, because the hash of every audit row is
 * taken over that encoding and the original Go lsm wrote the first rows of many logs.
 * Differences from JSON.stringify: `<` `>` `&` U+2028 U+2029 are escaped, map keys are
 * sorted by their UTF-8 bytes, lone surrogates become U+FFFD (Go's decoder turns invalid
 * UTF-8 and unpaired `\ud800` escapes into U+FFFD before anything is re-encoded).
 */

const HEX = '0123456789abcdef';

// Characters that need more than a copy: controls, quote, backslash, the HTML three,
// the line separators and surrogates (checked for pairing).
const SPECIAL = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/;

export interface GoJsonOptions {
  /** Go before 1.22 wrote \b and \f as \u0008 and \u000c; verification of old rows may need it. */
  legacyControl?: boolean;
}

export function goString(s: string, opts: GoJsonOptions = {}): string {
  if (!SPECIAL.test(s)) return `"${s}"`;
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x20) {
      if (c === 0x0a) rep = '\\n';
      else if (c === 0x0d) rep = '\\r';
      else if (c === 0x09) rep = '\\t';
      else if (c === 0x08 && !opts.legacyControl) rep = '\\b';
      else if (c === 0x0c && !opts.legacyControl) rep = '\\f';
      else rep = `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
    } else if (c === 0x22) rep = '\\"';
    else if (c === 0x5c) rep = '\\\\';
    else if (c === 0x3c) rep = '\\u003c';
    else if (c === 0x3e) rep = '\\u003e';
    else if (c === 0x26) rep = '\\u0026';
    else if (c === 0x2028) rep = '\\u2028';
    else if (c === 0x2029) rep = '\\u2029';
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      rep = '\ufffd';
    } else if (c >= 0xdc00 && c <= 0xdfff) rep = '\ufffd';
    if (rep === undefined) continue;
    out += s.slice(from, i) + rep;
    from = i + 1;
  }
  return `${out}${s.slice(from)}"`;
}

/** Go formats float64 like ES6 Number#toString, except that it keeps the sign of -0. */
export function goNumber(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError('json: unsupported value: a non-finite number');
  return Object.is(n, -0) ? '-0' : String(n);
}

// Go sorts map keys by their UTF-8 bytes; UTF-16 order differs only when a surrogate
// meets a character in U+E000..U+FFFF, so plain comparison is enough without those.
function compareUtf8(a: string, b: string): number {
  if (/[\ud800-\udfff]/.test(a + b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Encodes a decoded JSON value (what JSON.parse returns) as Go encodes an `any`:
 * objects as maps with sorted keys.
 */
export function goValue(v: unknown, opts: GoJsonOptions = {}): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return goString(v, opts);
    case 'number':
      return goNumber(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x) => goValue(x, opts)).join(',')}]`;
      const keys = Object.keys(v as object).sort(compareUtf8);
      const parts = keys.map((k) => `${goString(k, opts)}:${goValue((v as Record<string, unknown>)[k], opts)}`);
      return `{${parts.join(',')}}`;
    }
    default:
      throw new TypeError(`json: unsupported type: ${typeof v}`);
  }
}
