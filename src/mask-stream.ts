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
    j.replace(/\//g, '\\/'), // PHP's json_encode with JSON_UNESCAPED_UNICODE
    ascii.replace(/\//g, '\\/'), // PHP's json_encode
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
 * A line of a multi-line value shorter than this is not masked on its own: such lines
 * are mostly structure (`{`, `users:`, `apiVersion: v1`) that masking everywhere in the
 * output would hide as noise. A PEM body line is 64 characters, an OpenSSH one 70.
 */
export const MIN_LINE_BYTES = 16;

// PEM armour names what follows, and is no secret: `-----BEGIN PRIVATE KEY-----` stays
// readable above the masked body lines, which tells the reader what was printed.
const ARMOUR = /^-----(BEGIN|END) [A-Z0-9 ]+-----$/;

/** `echo $V` unquoted: the shell splits the value on its default IFS and joins the words with one space. */
const shellJoined = (value: string) => value.split(/[ \t\n]+/).filter((w) => w !== '').join(' ');

/**
 * The credential in each URL of the value (`scheme://user:password@host`): the password,
 * or the whole userinfo when it has no password and is as long as a token
 * (`https://TOKEN@github.com/...`, a Sentry DSN; not `postgres://postgres@localhost`,
 * whose user name masked would be noise), as written and percent-decoded. A prefix of
 * the URL (`cut -c1-40`) holds it without the rest of the value.
 */
function urlCredentials(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^\/?#\s]*)/gi)) {
    const authority = m[1];
    const at = authority.lastIndexOf('@');
    if (at < 0) continue;
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon < 0 && Buffer.byteLength(userinfo) < MIN_LINE_BYTES) continue;
    const cred = colon < 0 ? userinfo : userinfo.slice(colon + 1);
    out.push(cred);
    try {
      out.push(decodeURIComponent(cred));
    } catch {
      // not valid percent-encoding: the text as written is the form a program shows
    }
  }
  return out;
}

/**
 * The forms of one value that are masked: raw bytes (and with CRLF line ends, as a
 * terminal shows them), JSON string escapes, percent-encodings, and base64 in both
 * alphabets: the whole value encoded (padded or not) and the value inside a longer
 * encoded text at each of the three byte offsets mod 3. Then the pieces a program
 * prints by accident: each long enough line of a multi-line value (`| head -3`), the
 * value as an unquoted `echo $V` joins it, and the credential of a URL, with all the
 * encodings of a value (a Basic auth header holds it in base64).
 */
export function forms(value: string): Buffer[] {
  const raw = Buffer.from(value, 'utf8');
  if (raw.length < MIN_MASK_BYTES) return [];
  const out = new Map<string, Buffer>();
  const add = (b: Buffer) => {
    if (b.length >= MIN_MASK_BYTES) out.set(b.toString('latin1'), b);
  };
  encoded(value, raw, add);
  if (/[ \t\n]/.test(value)) {
    const joined = shellJoined(value);
    if (joined !== value) add(Buffer.from(joined, 'utf8'));
  }
  if (value.includes('\n')) {
    for (const line of value.split('\n')) {
      const t = line.trim();
      if (Buffer.byteLength(t) >= MIN_LINE_BYTES && !ARMOUR.test(t)) add(Buffer.from(t, 'utf8'));
    }
  }
  if (value.includes('://')) {
    for (const cred of urlCredentials(value)) if (cred !== value && Buffer.byteLength(cred) >= MIN_MASK_BYTES) encoded(cred, Buffer.from(cred, 'utf8'), add);
  }
  return [...out.values()];
}

/** The value and its encodings, each handed to `add`. */
function encoded(value: string, raw: Buffer, add: (b: Buffer) => void): void {
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
}

/**
 * The automaton: a DFA over byte classes (bytes no pattern uses share class 0) whose
 * rows of transitions are built when their state is first reached. Building them all up
 * front delayed every masked `lsm exec` of a 40-value store by ~14 ms (8,000 states x 65
 * classes); output rarely goes more than a few bytes into any pattern, so few rows are.
 */
export class Matcher {
  readonly classes = new Uint8Array(256);
  readonly width: number;
  /**
   * The built rows, premultiplied: from the row at offset r, on class c, go to the row
   * at delta[r + c]. A negative entry -(t + 1) names a state t that ends a pattern or
   * has no row yet: step() takes it. The scan loop costs one load and one sign test per
   * byte. Grows (a new array) as rows are built.
   */
  delta: Int32Array;
  // The trie in flat arrays (a Map per state made a 40-value store's exec spend more
  // time in the garbage collector than in building it): first child, next sibling, and
  // the class on the edge into each state.
  private readonly first: Int32Array;
  private readonly next: Int32Array;
  private readonly label: Uint8Array;
  /** The root's children by class: most failure links end at the root, which has the most children. */
  private readonly top: Int32Array;
  private readonly fail: Int32Array;
  /** By state: length of the longest pattern that ends there (0: none), and of its prefix. */
  private readonly matchLen: Int32Array;
  /** By state: which value (the owner given with the patterns) that longest pattern is a form of. */
  private readonly owner: Int32Array;
  private readonly depth: Int32Array;
  /** By state, the offset of its row (-1: not built); by row index, its state. */
  private readonly rowOf: Int32Array;
  private stateOf: Int32Array;
  private rows = 0;

  /** `owners[i]` names the value pattern i is a form of (default: all 0), for MaskStream.values. */
  constructor(patterns: Buffer[], owners?: ArrayLike<number>) {
    let n = 1;
    // Index loops: for-of over a Buffer goes through its iterator, slow in code run once.
    for (const p of patterns) for (let i = 0; i < p.length; i++) if (this.classes[p[i]] === 0) this.classes[p[i]] = n++;
    this.width = n;
    const cap = patterns.reduce((sum, p) => sum + p.length, 1);
    const first = new Int32Array(cap).fill(-1);
    const next = new Int32Array(cap).fill(-1);
    const label = new Uint8Array(cap);
    const ownLen = new Int32Array(cap);
    const ownOwner = new Int32Array(cap);
    const depth = new Int32Array(cap);
    this.first = first;
    this.next = next;
    this.label = label;
    this.top = new Int32Array(n).fill(-1);
    let states = 1;
    for (let j = 0; j < patterns.length; j++) {
      const p = patterns[j];
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const c = this.classes[p[i]];
        let t = this.child(s, c);
        if (t < 0) {
          t = states++;
          label[t] = c;
          depth[t] = depth[s] + 1;
          next[t] = first[s];
          first[s] = t;
          if (s === 0) this.top[c] = t;
        }
        s = t;
      }
      ownLen[s] = p.length; // a trie state spells one string: every pattern ending there is this one
      ownOwner[s] = owners ? owners[j] : 0;
    }
    this.depth = depth;
    // Failure links and match lengths, breadth first, so that a state's failure state
    // (shallower) is complete before the state is.
    const fail = new Int32Array(states);
    const matchLen = new Int32Array(states);
    const owner = new Int32Array(states);
    const queue = new Int32Array(states);
    let queued = 0;
    for (let k = first[0]; k >= 0; k = next[k]) queue[queued++] = k;
    for (let q = 0; q < queued; q++) {
      const s = queue[q];
      matchLen[s] = Math.max(ownLen[s], matchLen[fail[s]]);
      owner[s] = ownLen[s] > 0 ? ownOwner[s] : owner[fail[s]];
      for (let t = first[s]; t >= 0; t = next[t]) {
        let f = fail[s];
        let g = this.child(f, label[t]);
        while (g < 0 && f !== 0) {
          f = fail[f];
          g = this.child(f, label[t]);
        }
        fail[t] = g < 0 ? 0 : g;
        queue[queued++] = t;
      }
    }
    this.fail = fail;
    this.matchLen = matchLen;
    this.owner = owner;
    this.rowOf = new Int32Array(states).fill(-1);
    this.stateOf = new Int32Array(16);
    this.delta = new Int32Array(16 * this.width);
    this.build(0);
  }

  private child(s: number, c: number): number {
    if (s === 0) return this.top[c];
    for (let k = this.first[s]; k >= 0; k = this.next[k]) if (this.label[k] === c) return k;
    return -1;
  }

  /** Length of the longest pattern that ends at the state of row `r` (0: none). */
  matchLenAt(r: number): number {
    return this.matchLen[this.stateOf[r / this.width]];
  }

  /** The value whose form is the longest pattern ending at the state of row `r`. */
  ownerAt(r: number): number {
    return this.owner[this.stateOf[r / this.width]];
  }

  /** Bytes that may begin a pattern when the scan is at row `r`: they are held back. */
  depthAt(r: number): number {
    return this.depth[this.stateOf[r / this.width]];
  }

  /**
   * Takes the transition delta[at] when it is negative: builds the target's row if it has
   * none. Returns the row offset, negated minus one when the state ends a pattern (the
   * entry then stays negative, so that every later match comes here too).
   */
  step(at: number): number {
    const t = -this.delta[at] - 1;
    const r = this.rowOf[t] >= 0 ? this.rowOf[t] : this.build(t);
    if (this.matchLen[t] !== 0) return -r - 1;
    this.delta[at] = r;
    return r;
  }

  private build(t: number): number {
    const w = this.width;
    // A state's row is its failure state's row, with the trie's own edges on top.
    const f = this.fail[t];
    const fr = t === 0 ? -1 : this.rowOf[f] >= 0 ? this.rowOf[f] : this.build(f);
    if (this.rows === this.stateOf.length) {
      const grown = new Int32Array(this.delta.length * 2);
      grown.set(this.delta);
      this.delta = grown;
      const states = new Int32Array(this.stateOf.length * 2);
      states.set(this.stateOf);
      this.stateOf = states;
    }
    const r = this.rows++ * w;
    this.rowOf[t] = r;
    this.stateOf[r / w] = t;
    const delta = this.delta;
    if (fr >= 0) delta.copyWithin(r, fr, fr + w); // the root's row starts as all zeros: back to the root
    for (let k = this.first[t]; k >= 0; k = this.next[k]) {
      delta[r + this.label[k]] = this.rowOf[k] >= 0 && this.matchLen[k] === 0 ? this.rowOf[k] : -k - 1;
    }
    return r;
  }
}

let lastState = 0;
let lastAt = 0;

/**
 * Runs the automaton over chunk[from..] from row `s`. Returns the index of the byte
 * whose transition is negative (leaving its index in delta in lastAt: Matcher.step
 * takes it), or -1 at the end of the chunk (leaving the row reached in lastState). Kept
 * this small so that the loop compiles to a few instructions per byte.
 */
function scan(delta: Int32Array, classes: Uint8Array, chunk: Uint8Array, from: number, s: number): number {
  for (let i = from; i < chunk.length; i++) {
    const at = s + classes[chunk[i]];
    s = delta[at];
    if (s < 0) {
      lastAt = at;
      return i;
    }
  }
  lastState = s;
  return -1;
}

/**
 * A matcher for the values (and their forms), or undefined when none is long enough to
 * mask. A form shared by two values counts for the first; equal values count as one.
 */
export function matcherFor(values: Iterable<string>): Matcher | undefined {
  const patterns = new Map<string, [Buffer, number]>();
  const ids = new Map<string, number>();
  for (const v of values) {
    const id = ids.get(v) ?? ids.size;
    ids.set(v, id);
    for (const f of forms(v)) {
      const k = f.toString('latin1');
      if (!patterns.has(k)) patterns.set(k, [f, id]);
    }
  }
  const list = [...patterns.values()];
  return list.length === 0 ? undefined : new Matcher(list.map(([f]) => f), list.map(([, id]) => id));
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
  /** The values (Matcher owners) masked so far: how many is what lsm tells the user. */
  readonly values = new Set<number>();

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
      // The hot loop stays tiny: scan to the next negative entry (a match, rare, or a state
      // reached for the first time), handle it, go on.
      const hit = scan(m.delta, m.classes, chunk, i, s);
      if (hit < 0) {
        s = lastState;
        break;
      }
      // A state reached for the first time (its row is built now), or the end of a match.
      const r = m.step(lastAt);
      if (r < 0) {
        s = -r - 1;
        this.mark(start + hit + 1, m.matchLenAt(s));
        this.values.add(m.ownerAt(s));
      } else {
        s = r;
      }
      i = hit + 1;
    }
    this.state = s;
    // A view, not a copy: a chunk handed to push is owned by the stream from then on.
    this.pending = this.pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.pending, chunk]);
    return this.release(this.base + this.pending.length - m.depthAt(s));
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
