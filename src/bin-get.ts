import { runFastGet } from './fast.js';
import { reportCrashes } from './report.js';

/**
 * The entry of dist/lsm-get.cjs, the bundle the launcher tries first when the arguments
 * name `get`: it holds only what a plain `lsm get` runs. false: not a plain get,
 * nothing was done, and the launcher runs the full bundle instead.
 */
export function start(argv: string[]): boolean {
  const run = runFastGet(argv);
  if (!run) return false;
  reportCrashes();
  run.then((code) => {
    process.exitCode = code;
  });
  return true;
}
