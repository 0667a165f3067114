import type { Context } from '../context.js';

/** `lsm __keeper`: the keeper process itself, started by `lsm unlock` (never by hand). */
export async function run(ctx: Context, _args: string[], opts: { ttl: string; idle: string; acknowledge?: boolean; rotate?: boolean; checkpointMs?: string; channel?: string }): Promise<number> {
  const { runKeeper } = await import('../keeper/server.js');
  const { parseChannel } = await import('../keeper/channel.js');
  return runKeeper(ctx.home.dir, {
    ttlMs: Number(opts.ttl), idleMs: Number(opts.idle), acknowledge: Boolean(opts.acknowledge), rotate: Boolean(opts.rotate), channel: parseChannel(opts.channel),
    checkpointMs: Math.max(0, Math.min(60_000, Number(opts.checkpointMs ?? 1000) || 0)),
  });
}
