import { readFileSync } from 'node:fs';

/**
 * A process's /proc/PID/stat line (proc(5)). comm, field 2, may hold spaces and ')', so
 * the fields after it are counted from the last ')': `fields[0]` is state (field 3), and
 * field n of proc(5) is `fields[n - 3]` (the indexes below).
 */
export interface ProcStat {
  comm: string;
  fields: string[];
}

export const STATE = 0;
export const PPID = 1;
export const PGRP = 2;
export const SESSION = 3;
export const TTY_NR = 4;
export const TPGID = 5;
export const STARTTIME = 19;

export function parseStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  // The delimiters are ASCII, so decoding the whole line equals decoding comm's bytes alone.
  return { comm: text.slice(text.indexOf('(') + 1, close), fields: text.slice(close + 2).split(' ') };
}

/**
 * The stat of `pid` ('self': this process), undefined when it cannot be read (gone, not
 * Linux). Read as utf8: Node's native read path; other encodings run its JS path, whose
 * first use costs a few tenths of a millisecond of every command.
 */
export function readStat(pid: number | 'self'): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}
