import { existsSync } from 'node:fs';
import { parseFastGet } from './get-argv.js';
import { makeContext } from './context.js';
import { finalExitCode, reportCrashes, reportError } from './report.js';
import { LsmError } from './errors.js';
import { Output } from './term/output.js';
import { callKeeper, preconnect } from './keeper/client.js';
import { getWith } from './commands/get-with.js';
import { keeperGetter } from './keeper/getter.js';

/** Where a get this bundle does not serve goes: the local get, or the full bundle. */
export type Next = (bundle: 'local' | 'core') => void;

/**
 * The entry of dist/lsm-get.cjs, the bundle the launcher tries first when the arguments
 * name `get`. A plain get of a protected home is served from here alone: one request to
 * the keeper, which chooses the store, decides, decrypts and records. Anything else goes
 * on: a plain get of an unprotected home to the local get (dist/lsm-local.cjs), a locked
 * home with a person at the terminal (who is offered the unlock prompt) and every other
 * command to the full bundle. false: not a plain get, nothing was done.
 */
export function start(argv: string[], next: Next): boolean {
  const fast = parseFastGet(argv);
  if (!fast) return false;
  const ctx = makeContext(fast.flags, argv);
  // Both key files: the full bundle refuses that with its own message.
  if (!existsSync(ctx.home.keyAge) || existsSync(ctx.home.key)) {
    next(existsSync(ctx.home.keyAge) ? 'core' : 'local');
    return true;
  }
  // First, so that the keeper reads this process's /proc while the rest of it loads.
  preconnect(ctx.home);
  reportCrashes();
  void (async () => {
    let code: number;
    try {
      code = await getWith(ctx, fast.args, async () => keeperGetter(ctx, callKeeper));
    } catch (err) {
      if (err instanceof LsmError && err.code === 'keeper_locked' && ctx.stdin.isTTY && ctx.stderr.isTTY) {
        process.removeAllListeners('uncaughtException');
        process.removeAllListeners('unhandledRejection');
        next('core');
        return;
      }
      code = reportError(err, new Output(2));
    }
    // Everything is awaited and written synchronously by now: exiting spares a garbage collection.
    process.exit(finalExitCode(code));
  })();
  return true;
}
