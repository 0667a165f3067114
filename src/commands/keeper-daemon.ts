import type { Context } from '../context.js';

/** `lsm __keeper`: the keeper process itself, started by `lsm unlock` (never by hand). */
export async function run(ctx: Context, _args: string[], opts: { ttl: string; idle: string; acknowledge?: boolean; checkpointMs?: string }): Promise<number> {
  const { runKeeper } = await import('../keeper/server.js');
  return runKeeper(ctx.home.dir, { ttlMs: Number(opts.ttl), idleMs: Number(opts.idle), acknowledge: Boolean(opts.acknowledge), checkpointMs: Math.max(0, Math.min(60_000, Number(opts.checkpointMs ?? 1000) || 0)) });
}
