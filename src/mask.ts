/**
 * How a secret value is shown on a terminal (dump's listing, later masked output).
 *
 * - An empty value shows as "" (there is nothing to hide, and "empty" is useful to see).
 * - A value shorter than REVEAL_FROM code points shows as eight '*': the mask has a
 *   fixed width, so it tells nothing about the length of a short secret.
 * - A longer value shows its first two code points, then the same eight '*'
 *   (`sk-live-...` → `sk********`), which is enough to tell two keys apart. The
 *   prefix is dropped (full mask) when it is not two plain visible characters, or
 *   when the third code point would combine with the second: a prefix never splits a
 *   character, never carries a control character, and never ends mid-sequence.
 *
 * Work is done by code point (Array.from), never by UTF-16 unit or byte, so the
 * output is always valid text (the original cut bytes and could emit broken UTF-8).
 */
export const MASK = '********';
export const REVEAL_FROM = 16;
const PREFIX = 2;

// Letters, digits, punctuation and symbols; not marks, separators, controls or format characters.
const VISIBLE = /^[\p{L}\p{N}\p{P}\p{S}]$/u;
// A code point that attaches to the one before it: combining marks, variation selectors, ZWJ.
const JOINS = /^[\p{M}\u200d\u{e0020}-\u{e007f}]$/u;

export function mask(value: string): string {
  if (value === '') return '';
  const cps = Array.from(value);
  if (cps.length < REVEAL_FROM) return MASK;
  const head = cps.slice(0, PREFIX);
  const next = cps[PREFIX] ?? '';
  if (!head.every((c) => VISIBLE.test(c)) || JOINS.test(next)) return MASK;
  return head.join('') + MASK;
}
