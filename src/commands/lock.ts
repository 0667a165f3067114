import { PROTOCOL } from '../keeper/protocol.js';
import { requireHome } from './common.js';
import type { Context } from '../context.js';

/** `lsm lock` and `lsm keeper stop`: the keeper wipes the key from its memory and exits. */
export async function run(ctx: Context, _args: string[], _opts: unknown, cmd?: { name(): string }): Promise<number> {
  requireHome(ctx);
  const { sendRequest } = await import('../keeper/client.js');
  const op = cmd?.name() === 'stop' ? 'stop' : 'lock';
  try {
    const reply = await sendRequest(ctx.home, { v: PROTOCOL, op, args: {} }, 30_000);
    if (!reply.ok) throw new Error(reply.error.message);
    // It answers, then records keeper.lock and saves its state: done when it has exited.
    const { waitForKeeperExit } = await import('../keeper/stop-running.js');
    await waitForKeeperExit(Number((reply.result as { pid?: unknown } | null)?.pid));
  } catch (err) {
    if ((err as { code?: string }).code === 'keeper_locked') {
      ctx.stderr.write(`lsm: ${ctx.home.dir} is locked already (no keeper runs)\n`);
      return 0;
    }
    throw err;
  }
  ctx.stderr.write(`lsm: locked ${ctx.home.dir}: the keeper wiped the key and exited\n`);
  return 0;
}
