/**
 * Masks secret values in a byte stream (`lsm exec --mask`): every occurrence of a
 * value, or of one of its encodings, is replaced by MASK, also when it arrives split
 * across reads. One Aho-Corasick automaton over all the forms of all the values scans
 * each byte once; nothing is rescanned between chunks, because the automaton's state
 * carries over. What is held back between chunks is exactly the longest tail that could
 * still begin a match (the state's depth), so output that cannot be a secret is never
 * delayed. docs/policy.md lists the forms and the limits.
 */

export const MASK = '[masked]';
/** Shorter values are not masked: ports, flags and short words would mask noise. */
export const MIN_MASK_BYTES = 6;

const b64std = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
const toUrlSafe = (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_');

/**
 * The base64 characters fixed by the value alone when it sits at byte offset k (mod 3)
 * inside longer encoded data: the characters whose six bits all come from the value.
 */
function base64Inside(raw: Buffer, k: number): string {
  const enc = b64std(Buffer.concat([Buffer.alloc(k), raw]));
  return enc.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + raw.length)) / 6));
}

const hexLower = (s: string) => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());

function jsonForms(value: string): string[] {
  const j = JSON.stringify(value).slice(1, -1);
  const ascii = j.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return [
    j,
    j.replace(/\//g, '\\/'), // PHP's json_encode
    ascii, // Python's json.dumps (ensure_ascii)
    ascii.replace(/\\u([0-9a-f]{4})/g, (_, h: string) => `\\u${h.toUpperCase()}`),
    j.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`), // Go's encoding/json
  ];
}

function urlForms(value: string): string[] {
  const uri = encodeURIComponent(value);
  const form = new URLSearchParams({ v: value }).toString().slice(2);
  return [uri, hexLower(uri), form, hexLower(form)];
}

/**
 * The forms of one value that are masked: raw bytes (and with CRLF line ends, as a
 * terminal shows them), JSON string escapes, percent-encodings, and base64 in both
 * alphabets: the whole value encoded (padded or not) and the value inside a longer
 * encoded text at each of the three byte offsets mod 3.
 */
export function forms(value: string): Buffer[] {
  const raw = Buffer.from(value, 'utf8');
  if (raw.length < MIN_MASK_BYTES) return [];
  const out = new Map<string, Buffer>();
  const add = (b: Buffer) => {
    if (b.length >= MIN_MASK_BYTES) out.set(b.toString('latin1'), b);
  };
  add(raw);
  if (value.includes('\n')) add(Buffer.from(value.replace(/\r?\n/g, '\r\n'), 'utf8'));
  for (const s of [...jsonForms(value), ...urlForms(value)]) add(Buffer.from(s, 'utf8'));
  const padded = raw.toString('base64');
  const bare = b64std(raw);
  for (const s of [padded, toUrlSafe(padded), bare, toUrlSafe(bare)]) add(Buffer.from(s, 'latin1'));
  for (let k = 0; k < 3; k++) {
    const s = base64Inside(raw, k);
    add(Buffer.from(s, 'latin1'));
    add(Buffer.from(toUrlSafe(s), 'latin1'));
  }
  return [...out.values()];
}

/** The automaton: a dense DFA over byte classes (bytes no pattern uses share class 0). */
export class Matcher {
  readonly classes = new Uint8Array(256);
  readonly width: number;
  /**
   * Transitions, premultiplied: from the state whose row starts at r, on class c, go to
   * the row delta[r + c]; a negative entry -(row + 1) is a state where a pattern ends.
   * The scan loop then costs one load and one sign test per byte.
   */
  readonly delta: Int32Array;
  /** By state number: length of the longest pattern that ends there, 0 for none. */
  readonly matchLen: Int32Array;
  /** By state number: length of the pattern prefix the state stands for. */
  readonly depth: Int32Array;
  readonly states: number;

  constructor(patterns: Buffer[]) {
    let n = 1;
    for (const p of patterns) for (const b of p) if (this.classes[b] === 0) this.classes[b] = n++;
    this.width = n;
    // The trie, with children in sparse maps while it grows.
    const kids: Map<number, number>[] = [new Map()];
    const ownLen: number[] = [0];
    const depth: number[] = [0];
    for (const p of patterns) {
      let s = 0;
      for (const b of p) {
        const c = this.classes[b];
        let t = kids[s].get(c);
        if (t === undefined) {
          t = kids.length;
          kids.push(new Map());
          ownLen.push(0);
          depth.push(depth[s] + 1);
          kids[s].set(c, t);
        }
        s = t;
      }
      ownLen[s] = Math.max(ownLen[s], p.length);
    }
    const states = kids.length;
    this.states = states;
    const w = this.width;
    const delta = new Int32Array(states * w);
    const matchLen = new Int32Array(states);
    const fail = new Int32Array(states);
    // Breadth first, so that a state's failure state is complete before the state is.
    const queue: number[] = [];
    for (let c = 0; c < w; c++) {
      const t = kids[0].get(c);
      delta[c] = t ?? 0;
      if (t !== undefined) queue.push(t);
    }
    for (let q = 0; q < queue.length; q++) {
      const s = queue[q];
      matchLen[s] = Math.max(ownLen[s], matchLen[fail[s]]);
      const base = s * w;
      const fbase = fail[s] * w;
      for (let c = 0; c < w; c++) {
        const t = kids[s].get(c);
        if (t === undefined) {
          delta[base + c] = delta[fbase + c];
        } else {
          delta[base + c] = t;
          fail[t] = delta[fbase + c];
          queue.push(t);
        }
      }
    }
    for (let i = 0; i < delta.length; i++) {
      const t = delta[i];
      delta[i] = matchLen[t] !== 0 ? -(t * w) - 1 : t * w;
    }
    this.delta = delta;
    this.matchLen = matchLen;
    this.depth = Int32Array.from(depth);
  }
}

let lastState = 0;

/**
 * Runs the automaton over chunk[from..] from row `s`. Returns the index of the byte
 * that completes a match (leaving the negative entry in lastState), or -1 at the end
 * of the chunk (leaving the row reached in lastState).
 */
function scan(delta: Int32Array, classes: Uint8Array, chunk: Uint8Array, from: number, s: number): number {
  for (let i = from; i < chunk.length; i++) {
    s = delta[s + classes[chunk[i]]];
    if (s < 0) {
      lastState = s;
      return i;
    }
  }
  lastState = s;
  return -1;
}

/** A matcher for the values (and their forms), or undefined when none is long enough to mask. */
export function matcherFor(values: Iterable<string>): Matcher | undefined {
  const patterns = new Map<string, Buffer>();
  for (const v of values) for (const f of forms(v)) patterns.set(f.toString('latin1'), f);
  return patterns.size === 0 ? undefined : new Matcher([...patterns.values()]);
}

/**
 * One stream's masking state. `push` returns what may be shown now; `end` returns the
 * rest. Overlapping matches are masked as their union, so a byte that is part of any
 * match is never shown.
 */
export class MaskStream {
  /** Row offset of the current state in the transition table. */
  private state = 0;
  /** Bytes received but not yet shown; pending[0] is stream offset `base`. */
  private pending: Buffer = Buffer.alloc(0);
  private base = 0;
  /** Masked runs inside pending, as stream offsets [start, end), sorted and disjoint. */
  private runs: number[] = [];
  private readonly mask: Buffer;

  constructor(private readonly m: Matcher, mask: string = MASK) {
    this.mask = Buffer.from(mask, 'utf8');
  }

  /** Bytes held back now because they may begin a secret. */
  get held(): number {
    return this.pending.length;
  }

  /** Feeds the next bytes; returns what may be shown now. The chunk must not be changed afterwards. */
  push(chunk: Uint8Array): Buffer {
    const m = this.m;
    const start = this.base + this.pending.length;
    let s = this.state;
    let i = 0;
    for (;;) {
      // The hot loop stays tiny (a match is rare): scan to the next match, handle it, go on.
      const hit = scan(m.delta, m.classes, chunk, i, s);
      if (hit < 0) {
        s = lastState;
        break;
      }
      s = -lastState - 1;
      this.mark(start + hit + 1, m.matchLen[s / m.width]);
      i = hit + 1;
    }
    this.state = s;
    // A view, not a copy: a chunk handed to push is owned by the stream from then on.
    this.pending = this.pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.pending, chunk]);
    return this.release(this.base + this.pending.length - m.depth[s / m.width]);
  }

  /** Adds the match [end - len, end) to the masked runs, merged with those it overlaps. */
  private mark(end: number, len: number): void {
    const runs = this.runs;
    // A match may reach back into bytes already shown (released when idle): mask what is left.
    let from = Math.max(end - len, this.base);
    while (runs.length > 0 && runs[runs.length - 1] > from) {
      runs.pop();
      from = Math.min(from, runs.pop()!);
    }
    runs.push(from, end);
  }

  /** Everything still held: the stream ended. */
  end(): Buffer {
    const out = this.release(this.base + this.pending.length);
    this.state = 0;
    return out;
  }

  /**
   * Shows up to `max` held bytes after a pause in the output (a prompt, a TUI redraw):
   * the bytes shown may be the start of a secret that has not arrived yet, whose rest
   * is still masked when it does. Only the PTY path uses it, with max 1.
   */
  releaseIdle(max: number): Buffer {
    if (this.pending.length === 0 || this.pending.length > max) return Buffer.alloc(0);
    return this.release(this.base + this.pending.length);
  }

  /**
   * Shows stream bytes before `upTo` with their masked runs. A run that reaches past
   * `upTo` is held whole: a match still to come may overlap it, and the union must
   * come out as one mask whatever the chunking.
   */
  private release(upTo: number): Buffer {
    const runs = this.runs;
    const parts: Buffer[] = [];
    let at = this.base;
    let r = 0;
    while (r < runs.length && runs[r + 1] <= upTo) {
      if (runs[r] > at) parts.push(this.pending.subarray(at - this.base, runs[r] - this.base));
      parts.push(this.mask);
      at = runs[r + 1];
      r += 2;
    }
    if (r > 0) runs.splice(0, r);
    const cut = Math.max(at, runs.length > 0 ? Math.min(upTo, runs[0]) : upTo);
    if (cut > at) parts.push(this.pending.subarray(at - this.base, cut - this.base));
    this.pending = this.pending.subarray(cut - this.base);
    this.base = cut;
    // A lone part is a view of bytes this stream owns and never writes again: no copy.
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
}
