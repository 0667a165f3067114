import { main } from './cli.js';
import { finalExitCode, reportCrashes } from './report.js';

// The entry of dist/lsm-core.cjs: every command.
reportCrashes();
main(process.argv.slice(2)).then((code) => {
  process.exitCode = finalExitCode(code);
});
