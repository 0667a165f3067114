import { paint, type Colour } from './tty.js';

/**
 * A weekday x hour grid drawn with block characters, because "3 a.m. on Tuesday" is
 * seen faster in a picture than read from a table. Each hour is two cells wide so the
 * shading reads as a bar; levels are quarters of the busiest hour, and any non-zero
 * count is at least the lightest block so a single event is never invisible.
 */

export const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const BLOCKS = [' ', '░', '▒', '▓', '█'] as const;
const COLOURS: Colour[] = ['gray', 'cyan', 'green', 'yellow', 'red'];

export function level(count: number, max: number): number {
  if (count <= 0 || max <= 0) return 0;
  return Math.min(4, Math.ceil((count / max) * 4));
}

/** The lines of the map: hour header, one line per weekday with its total, legend. */
export function renderHeatmap(grid: number[][], opts: { colour: boolean }): string[] {
  const max = Math.max(0, ...grid.flat());
  const header = `     ${Array.from({ length: 8 }, (_, i) => String(i * 3).padStart(2, '0').padEnd(6)).join('').trimEnd()}`;
  const lines = [header];
  grid.forEach((hours, d) => {
    const cells = hours.map((n) => {
      const l = level(n, max);
      return l === 0 ? '  ' : paint(opts.colour, COLOURS[l], BLOCKS[l].repeat(2));
    });
    const total = hours.reduce((a, b) => a + b, 0);
    lines.push(`${DAYS[d]}  ${cells.join('')}  ${total}`);
  });
  const key = [1, 2, 3, 4].map((l) => `${paint(opts.colour, COLOURS[l], BLOCKS[l])} ≤${l * 25}%`).join('  ');
  lines.push(`     ${key} of the busiest hour (${max} event${max === 1 ? '' : 's'})`);
  return lines;
}
