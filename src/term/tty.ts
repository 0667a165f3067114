import { readlinkSync } from 'node:fs';
import { PGRP, TPGID, TTY_NR, readStat } from '../proc-stat.js';

const TERMINAL = /^\/dev\/(pts\/\d+|tty[\w.]*|console)$/;

/**
 * Whether `fd` is a terminal. On Linux the answer comes from /proc (what the fd points
 * at), which spares every command loading node:tty, and with it node:net. /dev/null is
 * a character device but not a terminal (the original got this wrong).
 */
export function isTerminal(fd: number): boolean {
  if (process.platform === 'linux') {
    try {
      return TERMINAL.test(readlinkSync(`/proc/self/fd/${fd}`));
    } catch { /* no /proc: ask libuv */ }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('node:tty') as typeof import('node:tty')).isatty(fd);
}

/**
 * The terminal lsm runs at: the device behind stdin, else stdout, else stderr
 * ("/dev/pts/3"); "" when none of them is a terminal. A person at a terminal who pipes
 * a file into lsm (`lsm exec -- psql < migration.sql`) is still at that terminal.
 */
export function terminalDevice(): string {
  for (const fd of [0, 1, 2]) {
    if (!isTerminal(fd)) continue;
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return 'tty';
    }
  }
  return '';
}

export function stdinIsTTY(): boolean {
  return isTerminal(0);
}

export function stdoutIsTTY(): boolean {
  return isTerminal(1);
}

export function stderrIsTTY(): boolean {
  return isTerminal(2);
}

/** Colour only on a TTY, and never when NO_COLOR is set to anything non-empty. */
export function useColor(fd: 1 | 2, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR) return false;
  if (env.TERM === 'dumb') return false;
  return isTerminal(fd);
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1, dim: 2 } as const;
export type Colour = keyof typeof codes;

export function paint(on: boolean, colour: Colour, s: string): string {
  return on ? `\u001b[${codes[colour]}m${s}\u001b[0m` : s;
}

/** Whether lsm is in the foreground process group of its controlling terminal (Linux: /proc; else: stdin is a TTY). */
export function inForeground(): boolean {
  const f = readStat('self')?.fields;
  // Not process.stdin: creating that stream could change the mode of the fd the child shares.
  if (!f) return isTerminal(0);
  return Number(f[TTY_NR]) !== 0 && f[PGRP] === f[TPGID];
}
