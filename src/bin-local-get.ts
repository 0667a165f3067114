import { runFastGet } from './fast.js';
import { finalExitCode, reportCrashes } from './report.js';

/**
 * The entry of dist/lsm-local.cjs: a plain `lsm get` of an unprotected home, which
 * decrypts here. It holds only what that runs. false: not a plain get, nothing was
 * done, and the launcher runs the full bundle instead.
 */
export function start(argv: string[]): boolean {
  const run = runFastGet(argv);
  if (!run) return false;
  reportCrashes();
  run.then((code) => {
    // Everything the command does is awaited by now and its output written synchronously:
    // exiting here spares the garbage collection V8 would otherwise run before the exit.
    process.exit(finalExitCode(code));
  });
  return true;
}
