import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { usage } from '../errors.js';
import { resolveFormat, type Format } from '../audit/format.js';
import type { Context } from '../context.js';

/** --format given to the subcommand, or to `audit` before it. */
export function formatOf(opts: { format?: string }, cmd?: Command): Format {
  return resolveFormat(opts.format ?? cmd?.parent?.opts().format);
}

/** The log an audit subcommand reads: --file, else the home's. */
export function logPath(ctx: Context, opts: { file?: string }): string {
  return opts.file ? resolve(opts.file) : ctx.home.audit;
}

/** Fields that say which log was read, when it is not the home's own. */
export function fileField(ctx: Context, path: string): Record<string, string> {
  return path === ctx.home.audit ? {} : { file: basename(path) };
}

/** A non-negative integer option; throws a usage error naming the flag. */
export function count(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const s = String(value).trim();
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw usage(`${flag} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(s);
}

/**
 * Writes lines to stdout; returns false once the reader has gone (`lsm audit query |
 * head`), so the caller stops reading the log. With `batchBytes`, lines are gathered
 * into few writes and the caller must flush() at the end (and when it goes idle).
 */
export interface LineWriter {
  (line: string): boolean;
  flush(): boolean;
}

export function lineWriter(ctx: Context, batchBytes = 0): LineWriter {
  let pending: string[] = [];
  let size = 0;
  let open = true;
  const flush = () => {
    if (open && pending.length > 0) open = ctx.stdout.write(pending.join('')) !== false;
    pending = [];
    size = 0;
    return open;
  };
  const write = (line: string) => {
    if (!open) return false;
    pending.push(`${line}\n`);
    size += line.length + 1;
    return size > batchBytes ? flush() : true;
  };
  return Object.assign(write, { flush });
}
