import { readlinkSync } from 'node:fs';
import { LsmError } from '../errors.js';
import type { Context } from '../context.js';

/** gpg-agent's cache is 10 min idle and 2 h at most; an agent session runs longer, so: */
export const IDLE_DEFAULT = '30m';
export const TTL_DEFAULT = '8h';

/** Asks the passphrase and starts a keeper with it (lsm unlock, and the inline offer to a person). */
export async function unlock(ctx: Context, o: { ttlMs: number; idleMs: number; acknowledge?: boolean }): Promise<void> {
  refusePreload(ctx, 'lsm unlock');
  const { readPassphrase } = await import('../term/passphrase.js');
  const passphrase = await readPassphrase(ctx, `Passphrase for ${ctx.home.dir}: `, { confirm: false });
  const { startKeeper } = await import('./start.js');
  const { channelOf } = await import('./channel.js');
  // The one who typed the passphrase chose this terminal and display: approvals are asked there.
  const channel = channelOf(ctx.stdin.isTTY ? ttyOfStdin() : '', ctx.env);
  const { pid, seal, applied } = await startKeeper(ctx.home, passphrase, { ...o, channel });
  const mins = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`);
  ctx.stderr.write(`lsm: unlocked ${ctx.home.dir} (keeper pid ${pid}; it locks after ${mins(o.idleMs)} idle, ${mins(o.ttlMs)} at the latest, or on 'lsm lock')\n`);
  const { describeChannel } = await import('./channel.js');
  const where = describeChannel(channel);
  ctx.stderr.write(where
    ? `lsm: approvals ('ask' in the policy) are asked on ${where}, unless config.yaml's approval: says otherwise\n`
    : "lsm: no terminal or display for approvals: an 'ask' is refused unless config.yaml's approval: names one\n");
  if (seal) ctx.stderr.write(`lsm: this keeper's approval prompts show the seal "${seal}"; a passphrase prompt without it is not lsm's\n`);
  // A loosening of config.yaml made while the key was locked, or held back, is in force now: said, not applied in silence.
  for (const l of applied) ctx.stderr.write(`lsm: config.yaml: now in force with this passphrase: ${l}\n`);
}

function ttyOfStdin(): string {
  try {
    return readlinkSync('/proc/self/fd/0');
  } catch {
    return '';
  }
}

/**
 * The passphrase passes through this process: code preloaded into it (a project's
 * .npmrc node-options, NODE_OPTIONS, LD_PRELOAD) would read it as it is written.
 */
export function refusePreload(ctx: Context, command: string): void {
  const preload = [...process.execArgv, ctx.env.NODE_OPTIONS ?? '', ctx.env.BUN_OPTIONS ?? ''].join(' ');
  if (/--(require|import|loader|experimental-loader)\b|(^|\s)-r\b|--preload\b/.test(preload) || ctx.env.LD_PRELOAD || ctx.env.LD_AUDIT) {
    throw new LsmError('usage', 'not asking the passphrase: this lsm runs with code preloaded into it (NODE_OPTIONS, BUN_OPTIONS, a --require, LD_PRELOAD), which could read it', {
      hint: `run '${command}' from a plain shell (not from a project script such as npm run)`,
    });
  }
}
