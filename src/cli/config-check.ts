import { LsmError } from '../errors.js';
import { readConfig } from '../config.js';
import type { Command } from 'commander';
import type { Context } from '../context.js';

// Commands that must work whatever config.yaml holds: they read nothing from it, or
// (audit) reading the log of a home whose config was broken must stay possible.
const WARN_ONLY = new Set(['init', 'audit']);
const SILENT = new Set(['version', 'completion', '__complete']);

/**
 * A malformed config.yaml is reported by every command that runs in the home, not only
 * by those that happen to read an app or env from it: `lsm list --app a --env b` would
 * otherwise work on while the file that holds the policy and the links is broken.
 */
export async function checkConfig(ctx: Context, cmd: Command): Promise<void> {
  let top: Command = cmd;
  while (top.parent && top.parent.parent) top = top.parent;
  if (SILENT.has(top.name())) return;
  try {
    await readConfig(ctx.home);
  } catch (err) {
    if (!(err instanceof LsmError) || err.code !== 'config') throw err;
    if (!WARN_ONLY.has(top.name())) throw err;
    ctx.stderr.write(`lsm: warning: ${err.message}${err.hint ? ` (${err.hint})` : ''}\n`);
  }
}
