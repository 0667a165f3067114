import { main } from './cli.js';
import { reportCrashes } from './report.js';

// The entry of dist/lsm-core.cjs: every command.
reportCrashes();
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
