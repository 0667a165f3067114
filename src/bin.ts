import { main, reportError } from './cli.js';

// The bundle's entry: run lsm with the process's arguments.
process.on('uncaughtException', (err) => {
  process.exitCode = reportError(err);
});
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
