import type { Context } from '../context.js';
import type { AuditRow } from './event.js';

/**
 * What runs after an event is safely in the log: the seam for shipping events off the
 * machine. A hook must be cheap when it has nothing to do (every command pays it) and
 * must not throw for its own failures: record() reports them as warnings.
 */
export type AfterAppend = (ctx: Context, row: AuditRow) => void | Promise<void>;

const hooks: AfterAppend[] = [];

/** Registers a hook; call it at start-up (from a src/cli/ registration module). */
export function onAfterAppend(hook: AfterAppend): void {
  if (!hooks.includes(hook)) hooks.push(hook);
}

export async function afterAppend(ctx: Context, row: AuditRow): Promise<void> {
  for (const hook of hooks) {
    try {
      await hook(ctx, row);
    } catch (err) {
      ctx.stderr.write(`lsm: warning: after recording seq ${row.seq}: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}
