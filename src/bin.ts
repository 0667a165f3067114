import { main, reportError } from './cli.js';

// The bundle's entry: run lsm with the process's arguments.
let failing = false;
process.on('uncaughtException', (err) => {
  // The reader of stdout/stderr went away (`lsm ... | head`), or reporting failed too:
  // there is no one left to tell, and writing again would only fail again.
  if (failing || (err as { code?: unknown })?.code === 'EPIPE') process.exit(process.exitCode ?? 1);
  failing = true;
  process.exitCode = reportError(err);
});
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
