import { toRow, type AuditRow } from './event.js';

/**
 * Rows a reader cannot take at face value, shown rather than skipped: a line cut short
 * (a torn write, or one cut on purpose so that the next append "repairs" it and the read
 * it recorded disappears from every reader), and a line too deep or too large to
 * handle (a row nested 200,000 deep made the text readers throw a RangeError). What can
 * still be read of such a line, its seq, ts, event, app, env and key, is shown, marked
 * with the damage; `audit suspicious` counts it.
 */

/** lsm writes rows a few levels deep; anything deeper was put there. */
export const MAX_DEPTH = 32;
/** lsm's rows are a kilobyte or two; past this a row is shown only in part (a reader must not hold a gigabyte line). */
export const MAX_ROW_BYTES = 16 * 1024 * 1024;

export type Damage = 'torn' | 'too_deep' | 'too_large';

/** The reader's own note on a row it salvaged: set only by the reader, never read from the log. */
export const DAMAGE_FIELD = 'lsm_reader_damage';

/** Whether `v` nests deeper than `max` levels; stops at `max`, so it never overflows the stack. */
export function deeperThan(v: unknown, max: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (max <= 0) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (deeperThan(x, max - 1)) return true;
    return false;
  }
  for (const k in v as Record<string, unknown>) if (deeperThan((v as Record<string, unknown>)[k], max - 1)) return true;
  return false;
}

// First occurrences in the line: lsm writes seq, ts, event, app, env before the actor and fields.
const NUM = (name: string) => new RegExp(`"${name}":(\\d{1,15})[,}]`);
const STR = (name: string) => new RegExp(`"${name}":"((?:[^"\\\\]|\\\\.){0,200})"`);
const PATTERNS = {
  seq: NUM('seq'), ts: STR('ts'), event: STR('event'), app: STR('app'), env: STR('env'), key: STR('key'), outcome: STR('outcome'),
};

function unquote(s: string): string {
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return s;
  }
}

/**
 * What can be read of a damaged line, or undefined when it names no seq and event (a
 * line of noise stays a skipped line). `raw` is a JSON rendering of what was read, with
 * the damage named, so that JSONL output stays one valid object per line.
 */
export function salvageRow(bytes: Buffer, damage: Damage): { raw: string; row: AuditRow; damage: Damage } | undefined {
  const text = bytes.subarray(0, 64 * 1024).toString('utf8');
  const got: Record<string, string> = {};
  for (const [name, re] of Object.entries(PATTERNS)) {
    const m = re.exec(text);
    if (m) got[name] = name === 'seq' ? m[1] : unquote(m[1]);
  }
  const seq = Number(got.seq);
  if (!Number.isSafeInteger(seq) || seq < 1 || !got.event) return undefined;
  const fields: Record<string, unknown> = {};
  if (got.key) fields.key = got.key;
  fields[DAMAGE_FIELD] = `${damage}: ${bytes.length} bytes${damage === 'torn' ? ', cut short' : ''}; only seq, ts, event, app, env and key were read`;
  const obj: Record<string, unknown> = { schema_version: 2, seq, ts: got.ts ?? '', event: got.event };
  if (got.app) obj.app = got.app;
  if (got.env) obj.env = got.env;
  obj.outcome = got.outcome ?? '';
  obj.fields = fields;
  obj.damage = damage;
  return { raw: JSON.stringify(obj), row: toRow(obj), damage };
}
