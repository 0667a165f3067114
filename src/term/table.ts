import { usage } from '../errors.js';

/**
 * How a listing command prints: `json` (one document), `text` (an aligned table with
 * headers) or `lines` (one name a line, what `auto` gives when stdout is not a terminal,
 * so `for k in $(lsm list)` and the completion scripts keep working).
 */
export type ListFormat = 'json' | 'text' | 'lines';

export function listFormat(value: string | undefined, isTTY: boolean): ListFormat {
  const v = (value ?? 'auto').trim().toLowerCase();
  if (v === 'json' || v === 'text') return v;
  if (v === 'auto' || v === '') return isTTY ? 'text' : 'lines';
  throw usage(`unknown --format ${JSON.stringify(value)}`, 'expected auto, text or json');
}

/** Aligned columns under upper-case headers; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].map((l) => `${l}\n`).join('');
}
