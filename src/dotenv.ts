import { LsmError } from './errors.js';

// What to do about each kind of line the parser refuses; keyed by the reason's first word.
const PARSE_HINTS: Record<string, string> = {
  expected: "each line is KEY=value, 'export KEY=value', a # comment or blank (docs/dotenv.md)",
  invalid: "key names use letters, digits and '_' and do not start with a digit",
  unterminated: 'close the quote; a quoted value may span lines, the closing quote ends it',
  other: 'a comment after a quoted value starts with #; see docs/dotenv.md for the syntax',
};

/**
 * The one .env parser/serializer of lsm (dialect: docs/dotenv.md).
 *
 * The store's plaintext is a .env text, so the model is lossless: a document is the
 * list of its lines, each keeping its raw text, and serialize() concatenates them.
 * Editing rewrites only the value of the entry it touches and appends new keys.
 * Duplicate keys: the last occurrence is the visible one; earlier ones are shadowed.
 */

type Line =
  | { raw: string; key?: undefined }
  /** valueStart/valueEnd delimit the value's text (quotes included) inside raw. */
  | { raw: string; key: string; value: string; valueStart: number; valueEnd: number };

type Entry = Extract<Line, { key: string }>;

export type SetResult = 'added' | 'changed' | 'unchanged';

const TAB = 9, CR = 13, SPACE = 32, HASH = 35, DQUOTE = 34, SQUOTE = 39, BACKTICK = 96, EQ = 61, BACKSLASH = 92;

const isBlank = (c: number): boolean => c === SPACE || c === TAB;
const isKeyStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isKeyChar = (c: number): boolean => isKeyStart(c) || (c >= 48 && c <= 57);

/**
 * The longest key, as names.ts allows on the command line: a longer one could be
 * imported but never read, changed or deleted by name.
 */
const MAX_KEY = 256;

// Commands validate key names earlier (names.ts) with a friendlier message; this guard
// keeps the document readable back, since the parser rejects any other key.
function checkKey(key: string): string {
  let ok = key.length > 0 && key.length <= MAX_KEY && isKeyStart(key.charCodeAt(0));
  for (let i = 1; ok && i < key.length; i++) ok = isKeyChar(key.charCodeAt(i));
  if (!ok) {
    throw new LsmError('invalid_name', 'invalid key name', {
      hint: 'keys are environment variable names: letters, digits and _, not starting with a digit',
    });
  }
  return key;
}

// Bare values are written only from characters that mean the same to our parser,
// dotenv, docker compose and a POSIX shell (no ~, $, globs, quotes, # or spaces).
const BARE = /^[A-Za-z0-9_.,:/@%+=-]+$/;

/** The text written after `KEY=`: bare when safe, else '...' when literal quoting can hold it, else "..." with escapes. */
function formatValue(value: string): string {
  if (value === '' || BARE.test(value)) return value;
  if (!/['\n\r]/.test(value)) return `'${value}'`;
  return `"${value.replace(/[\\"\n\r]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`))}"`;
}

/** In a comment: a name, then = or :, then something: `OLD_KEY=abc`, `token: abc`. */
const VALUE_LIKE = /[A-Za-z_][A-Za-z0-9_.-]*\s*[=:]\s*\S/;

const unBom = (raw: string): string => (raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw);

/** The comment of a line, trimmed: a whole-line `# ...`, or the `# ...` after a value. */
function commentOf(l: Line): string | undefined {
  const rest = l.key === undefined ? l.raw : l.raw.slice(l.valueEnd);
  const hash = rest.indexOf('#');
  return hash < 0 ? undefined : rest.slice(hash).trim();
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

export class EnvDocument {
  private lines: Line[];
  /**
   * Each key's last line and how many lines assign it, built on the first lookup: a scan
   * per lookup made an import of n new keys, and an edit's diff, cost n² (300,000 keys:
   * minutes).
   */
  private index?: Map<string, { entry: Entry; count: number }>;
  /** Line ending for appended lines: the document's own when it has one. */
  private eol: string;

  /** The document of `text` (empty by default); `source` names the file in parse errors. */
  constructor(text = '', source = '<input>') {
    this.lines = parseLines(text, source);
    const nl = text.indexOf('\n');
    this.eol = nl > 0 && text.charCodeAt(nl - 1) === CR ? '\r\n' : '\n';
  }

  get size(): number {
    return this.visible().size;
  }

  get(key: string): string | undefined {
    return this.last(key)?.value;
  }

  has(key: string): boolean {
    return this.last(key) !== undefined;
  }

  /**
   * Sets a value. An existing key keeps its place, prefix (`export`, spacing) and inline
   * comment; shadowed duplicates are dropped so no stale secret survives. A new key
   * is appended. An equal value is a no-op that leaves the text untouched.
   */
  set(key: string, value: string): SetResult {
    checkKey(key);
    const entry = this.last(key);
    if (entry === undefined) {
      const tail = this.lines.at(-1);
      if (tail !== undefined && !tail.raw.endsWith('\n')) tail.raw += this.eol;
      const raw = `${key}=${formatValue(value)}${this.eol}`;
      const added: Entry = { raw, key, value, valueStart: key.length + 1, valueEnd: raw.length - this.eol.length };
      this.lines.push(added);
      this.indexed().set(key, { entry: added, count: 1 });
      return 'added';
    }
    if (entry.value === value) return 'unchanged';
    const text = formatValue(value);
    let rest = entry.raw.slice(entry.valueEnd);
    // `KEY="v"#note` is legal, but a bare value would swallow the comment.
    if (rest.charCodeAt(0) === HASH) rest = ` ${rest}`;
    entry.raw = entry.raw.slice(0, entry.valueStart) + text + rest;
    entry.valueEnd = entry.valueStart + text.length;
    entry.value = value;
    const at = this.indexed().get(key)!;
    if (at.count > 1) {
      this.lines = this.lines.filter((l) => l === entry || l.key !== key);
      at.count = 1;
    }
    return 'changed';
  }

  /** Removes every occurrence of key (its comment lines stay). */
  delete(key: string): boolean {
    if (!this.indexed().has(key)) return false;
    this.lines = this.lines.filter((l) => l.key !== key);
    this.index!.delete(key);
    return true;
  }

  /** Unique keys, ordered by their visible (last) occurrence. */
  keys(): string[] {
    return [...this.visible().keys()];
  }

  entries(): [string, string][] {
    return [...this.visible()];
  }

  /** A fresh Map (last occurrence wins); changing it does not change the document. */
  toMap(): Map<string, string> {
    return this.visible();
  }

  serialize(): string {
    let out = '';
    for (const l of this.lines) out += l.raw;
    return out;
  }

  /** Keys assigned more than once with another value before the last: what a Map would lose. */
  shadowed(): string[] {
    const last = this.visible();
    const out = new Set<string>();
    for (const l of this.lines) if (l.key !== undefined && l.value !== last.get(l.key)) out.add(l.key);
    return [...out];
  }

  /**
   * 1-based numbers of the lines whose comment looks like it keeps a value (`# OLD_KEY=...`,
   * `# token: ...`), whole-line or after a value: text the entries do not carry.
   */
  commentedValues(): number[] {
    const out: number[] = [];
    let no = 1;
    for (const l of this.lines) {
      const rest = l.key === undefined ? l.raw : l.raw.slice(l.valueEnd);
      const hash = rest.indexOf('#');
      if (hash >= 0 && VALUE_LIKE.test(rest.slice(hash + 1))) out.push(no + countNewlines(l.raw.slice(0, l.key === undefined ? hash : l.valueEnd + hash)));
      no += countNewlines(l.raw);
    }
    return out;
  }

  /**
   * Merges `from` as `import` does. Each key is set as by set(); a new key is appended
   * with its line as written there (quoting, inline comment). The comment lines above
   * each key of `from` (the file's header above the first) and after its last key that
   * this document does not hold yet come along: above the key's line here, or at the end.
   * A document with nothing but blank lines takes `from` as it is.
   */
  merge(from: EnvDocument): { results: [string, SetResult][]; comments: number } {
    const visible = from.indexed();
    const results: [string, SetResult][] = [];
    if (this.lines.every((l) => l.key === undefined && l.raw.trim() === '')) {
      this.lines = from.lines.map((l) => ({ ...l }));
      this.eol = from.eol;
      this.index = undefined;
      for (const k of from.keys()) results.push([k, 'added']);
      return { results, comments: this.lines.filter((l) => commentOf(l) !== undefined).length };
    }
    const have = new Set<string>();
    for (const l of this.lines) {
      const c = commentOf(l);
      if (c !== undefined) have.add(c);
    }
    let comments = 0;
    let pending: Line[] = [];
    const take = (): string[] => {
      const block: string[] = [];
      for (const l of pending) {
        const c = commentOf(l);
        if (c === undefined || have.has(c)) continue;
        have.add(c);
        block.push(unBom(l.raw).replace(/\r?\n$/, '') + this.eol);
      }
      pending = [];
      comments += block.length;
      return block;
    };
    const endLine = () => {
      const tail = this.lines.at(-1);
      if (tail !== undefined && !tail.raw.endsWith('\n')) tail.raw += this.eol;
    };
    const gap = () => {
      const tail = this.lines.at(-1);
      if (tail !== undefined && tail.raw.trim() !== '') this.lines.push({ raw: this.eol });
    };
    for (const l of from.lines) {
      if (l.key === undefined || visible.get(l.key)!.entry !== l) {
        if (l.key === undefined) pending.push(l);
        continue;
      }
      const block = take();
      const entry = this.last(l.key);
      if (entry === undefined) {
        checkKey(l.key);
        endLine();
        if (block.length > 0) gap();
        for (const raw of block) this.lines.push({ raw });
        // A byte order mark is read only at the very start: elsewhere it would not parse.
        const bom = l.raw.length - unBom(l.raw).length;
        const added: Entry = { ...l, raw: unBom(l.raw).replace(/\r?\n$/, '') + this.eol, valueStart: l.valueStart - bom, valueEnd: l.valueEnd - bom };
        const inline = commentOf(l);
        if (inline !== undefined) have.add(inline);
        this.lines.push(added);
        this.indexed().set(l.key, { entry: added, count: 1 });
        results.push([l.key, 'added']);
        continue;
      }
      results.push([l.key, this.set(l.key, l.value)]);
      // The key's line here stays as it is: its inline comment in `from` goes above it.
      const inline = commentOf(l);
      if (inline !== undefined && !have.has(inline)) {
        have.add(inline);
        block.push(inline + this.eol);
        comments++;
      }
      if (block.length > 0) {
        const at = this.lines.indexOf(this.last(l.key)!);
        this.lines.splice(at, 0, ...block.map((raw) => ({ raw })));
      }
    }
    const rest = take();
    if (rest.length > 0) {
      endLine();
      gap();
      for (const raw of rest) this.lines.push({ raw });
    }
    return { results, comments };
  }

  /** Every comment, whole-line or after a value, trimmed, with its 1-based line number. */
  comments(): { line: number; text: string }[] {
    const out: { line: number; text: string }[] = [];
    let no = 1;
    for (const l of this.lines) {
      const text = commentOf(l);
      if (text !== undefined) out.push({ line: no + (l.key === undefined ? 0 : countNewlines(l.raw.slice(0, l.valueEnd))), text });
      no += countNewlines(l.raw);
    }
    return out;
  }

  private last(key: string): Entry | undefined {
    return this.indexed().get(key)?.entry;
  }

  private indexed(): Map<string, { entry: Entry; count: number }> {
    if (this.index === undefined) {
      this.index = new Map();
      for (const l of this.lines) {
        if (l.key === undefined) continue;
        const seen = this.index.get(l.key);
        this.index.set(l.key, { entry: l, count: (seen?.count ?? 0) + 1 });
      }
    }
    return this.index;
  }

  private visible(): Map<string, string> {
    const map = new Map<string, string>();
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const l = this.lines[i]!;
      if (l.key !== undefined && !map.has(l.key)) map.set(l.key, l.value);
    }
    return new Map([...map].reverse());
  }
}

/** The text lsm writes for these entries: one `KEY=value` line each; a repeated key keeps its first place and last value, as in a Map. */
export function serializeEnv(entries: Iterable<readonly [string, string]>): string {
  let out = '';
  for (const [key, value] of new Map(entries)) out += `${checkKey(key)}=${formatValue(value)}\n`;
  return out;
}

/**
 * Parses a .env text. Errors are LsmError('parse', '<source>:<line>: <reason>') and
 * never quote the text, since any of it may be a secret.
 */
export function parseEnv(text: string, source = '<input>'): EnvDocument {
  return new EnvDocument(text, source);
}

function parseLines(text: string, source: string): Line[] {
  const lines: Line[] = [];
  const len = text.length;
  let pos = 0;
  let lineNo = 1;
  const fail = (line: number, reason: string): LsmError => new LsmError('parse', `${source}:${line}: ${reason}`, { hint: PARSE_HINTS[reason.split(' ')[0]] ?? PARSE_HINTS.other });
  const skipBlank = (i: number, end: number): number => {
    while (i < end && isBlank(text.charCodeAt(i))) i++;
    return i;
  };
  /** [end of the line's content (before \r\n or \n), start of the next line]. */
  const lineBounds = (from: number): [number, number] => {
    const nl = text.indexOf('\n', from);
    const end = nl === -1 ? len : nl;
    return [end > from && text.charCodeAt(end - 1) === CR ? end - 1 : end, nl === -1 ? len : nl + 1];
  };

  while (pos < len) {
    const start = pos;
    let [contentEnd, next] = lineBounds(pos);
    // A byte order mark is kept in the raw text of the first line, like indentation.
    let i = skipBlank(start === 0 && text.charCodeAt(0) === 0xfeff ? 1 : start, contentEnd);
    if (i === contentEnd || text.charCodeAt(i) === HASH) {
      lines.push({ raw: text.slice(start, next) });
      pos = next;
      lineNo++;
      continue;
    }
    const malformed = (): LsmError => {
      const eq = text.indexOf('=', i);
      return fail(lineNo, eq !== -1 && eq < contentEnd ? 'invalid key name' : 'expected KEY=value');
    };
    if (text.startsWith('export', i) && isBlank(text.charCodeAt(i + 6))) {
      const j = skipBlank(i + 6, contentEnd);
      // `export = x` assigns a key named export.
      if (isKeyStart(text.charCodeAt(j))) i = j;
    }
    const keyStart = i;
    if (!isKeyStart(text.charCodeAt(i))) throw malformed();
    while (i < contentEnd && isKeyChar(text.charCodeAt(i))) i++;
    if (i - keyStart > MAX_KEY) throw fail(lineNo, 'invalid key name');
    const key = text.slice(keyStart, i);
    i = skipBlank(i, contentEnd);
    if (text.charCodeAt(i) !== EQ || i >= contentEnd) throw malformed();
    const afterEq = i + 1;
    const v = skipBlank(afterEq, contentEnd);
    const q = v < contentEnd ? text.charCodeAt(v) : -1;
    let value: string;
    let valueStart: number;
    let valueEnd: number;

    if (q === DQUOTE || q === SQUOTE || q === BACKTICK) {
      let close = -1;
      if (q === DQUOTE) {
        for (let k = v + 1; k < len; k++) {
          const c = text.charCodeAt(k);
          if (c === BACKSLASH) k++;
          else if (c === DQUOTE) {
            close = k;
            break;
          }
        }
      } else {
        close = text.indexOf(q === SQUOTE ? "'" : '`', v + 1);
      }
      if (close === -1) {
        throw fail(lineNo, `unterminated ${q === DQUOTE ? 'double' : q === SQUOTE ? 'single' : 'backtick'}-quoted value`);
      }
      let body = text.slice(v + 1, close);
      for (let k = body.indexOf('\n'); k !== -1; k = body.indexOf('\n', k + 1)) lineNo++;
      // Line endings inside a quoted value read as \n whatever the file uses.
      if (body.includes('\r\n')) body = body.replaceAll('\r\n', '\n');
      value = q === DQUOTE ? unescape(body) : body;
      [contentEnd, next] = lineBounds(close + 1);
      const after = skipBlank(close + 1, contentEnd);
      if (after < contentEnd && text.charCodeAt(after) !== HASH) throw fail(lineNo, 'unexpected text after closing quote');
      valueStart = v - start;
      valueEnd = close + 1 - start;
    } else {
      // As in a shell, # starts a comment only after whitespace: `URL=a#b` keeps its #.
      let end = v;
      while (end < contentEnd && !(text.charCodeAt(end) === HASH && end > afterEq && isBlank(text.charCodeAt(end - 1)))) end++;
      while (end > v && isBlank(text.charCodeAt(end - 1))) end--;
      value = text.slice(v, end);
      // An empty value is re-written right after `=`, before any ` # comment`.
      valueStart = (end > v ? v : afterEq) - start;
      valueEnd = end - start;
    }
    lines.push({ raw: text.slice(start, next), key, value, valueStart, valueEnd });
    pos = next;
    lineNo++;
  }
  return lines;
}

/** Double-quote escapes: \n \r \" \\; any other backslash is kept, as dotenv does (C:\Users). */
function unescape(body: string): string {
  if (!body.includes('\\')) return body;
  let out = '';
  let from = 0;
  for (let k = body.indexOf('\\'); k !== -1 && k + 1 < body.length; k = body.indexOf('\\', from)) {
    const c = body[k + 1]!;
    const r = c === 'n' ? '\n' : c === 'r' ? '\r' : c === '"' || c === '\\' ? c : undefined;
    if (r === undefined) {
      out += body.slice(from, k + 2);
    } else {
      out += body.slice(from, k) + r;
    }
    from = k + 2;
  }
  return out + body.slice(from);
}
