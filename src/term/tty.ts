import { isatty } from 'node:tty';

/** A real terminal: /dev/null is a character device but not a TTY (the original got this wrong). */
export function stdinIsTTY(): boolean {
  return isatty(0);
}

export function stdoutIsTTY(): boolean {
  return isatty(1);
}

export function stderrIsTTY(): boolean {
  return isatty(2);
}

/** Colour only on a TTY, and never when NO_COLOR is set to anything non-empty. */
export function useColor(fd: 1 | 2, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR) return false;
  if (env.TERM === 'dumb') return false;
  return isatty(fd);
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1, dim: 2 } as const;
export type Colour = keyof typeof codes;

export function paint(on: boolean, colour: Colour, s: string): string {
  return on ? `\u001b[${codes[colour]}m${s}\u001b[0m` : s;
}
