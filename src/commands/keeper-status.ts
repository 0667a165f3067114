import { existsSync } from 'node:fs';
import { PROTOCOL, socketPath } from '../keeper/protocol.js';
import { isProtected } from '../vault.js';
import { resolveFormat } from '../audit/format.js';
import { requireHome } from './common.js';
import type { Context } from '../context.js';

/**
 * `lsm keeper status`: whether the home is protected, whether a keeper holds its key,
 * and what a same-user process could do about it (dumpable, ptrace_scope).
 */
export async function run(ctx: Context, _args: string[], opts: { format?: string }): Promise<number> {
  requireHome(ctx);
  const { ptraceScope } = await import('../platform.js');
  const protectedHome = isProtected(ctx.home);
  const status: Record<string, unknown> = {
    home: ctx.home.dir,
    protected: protectedHome,
    running: false,
    locked: protectedHome,
    pid: null,
    socket: socketPath(ctx.home),
    dumpable: null,
    ptrace_scope: ptraceScope() ?? null,
  };
  const warnings: string[] = [];
  if (!protectedHome) {
    warnings.push(`the home is not protected: ${existsSync(ctx.home.key) ? 'key.txt' : 'its key'} opens every store without a passphrase ('lsm key protect')`);
  } else if (existsSync(socketPath(ctx.home))) {
    const { sendRequest } = await import('../keeper/client.js');
    try {
      const reply = await sendRequest(ctx.home, { v: PROTOCOL, op: 'status', args: {} }, 10_000);
      if (reply.ok) Object.assign(status, reply.result as Record<string, unknown>);
    } catch { /* a stale socket: not running */ }
  }
  if (status.dumpable === true) warnings.push('the keeper is dumpable: other processes of this user can read its memory');
  if (status.ptrace_scope === 0) warnings.push('ptrace_scope is 0: a process of this user can attach to your terminal and shell (see docs/keeper.md)');
  if (Array.isArray(status.config_pending) && status.config_pending.length > 0) warnings.push(`config.yaml loosens the policy, not applied until 'lsm unlock': ${status.config_pending.join('; ')}`);
  if (resolveFormat(opts.format) === 'json') {
    ctx.stdout.write(`${JSON.stringify({ ...status, warnings })}\n`);
    return 0;
  }
  const rows: Array<[string, string]> = [
    ['home', ctx.home.dir],
    ['protected', protectedHome ? 'yes (key.age, passphrase)' : 'no (key.txt)'],
    ['keeper', status.running ? `running, pid ${status.pid}` : 'not running'],
    ['locked', status.locked ? 'yes' : 'no'],
  ];
  if (status.running) {
    rows.push(['socket', String(status.socket)], ['dumpable', status.dumpable ? 'yes' : 'no'], ['locks at', `${status.idle_expires} (idle), ${status.expires} (at the latest)`]);
    if ('approval_channel' in status) rows.push(['approvals', typeof status.approval_channel === 'string' ? `${status.approval_channel} (from lsm unlock)` : "none from lsm unlock (config.yaml's approval: may name one)"]);
  }
  rows.push(['ptrace_scope', status.ptrace_scope === null ? 'no Yama (any process of this user may ptrace another that is dumpable)' : String(status.ptrace_scope)]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  ctx.stdout.write(rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join('\n') + '\n');
  for (const w of warnings) ctx.stderr.write(`lsm: warning: ${w}\n`);
  return 0;
}
