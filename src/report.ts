import { LsmError, EXIT } from './errors.js';

// Unknown failures are reported by type only: a message from deep inside a parser can
// quote the input it choked on, and that input may be a secret.
function describeUnexpected(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${err.name}${typeof code === 'string' ? ` (${code})` : ''}`;
  }
  return typeof err;
}

/** Prints an error for a person (message, then a hint) and returns the exit code it calls for. */
export function reportError(err: unknown, stderr: { write(s: string): unknown } = process.stderr): number {
  if (err instanceof LsmError) {
    stderr.write(`lsm: ${err.message}\n`);
    if (err.hint) stderr.write(`hint: ${err.hint}\n`);
    return err.exit;
  }
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    // commander has printed its message already.
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return EXIT.ok;
    return EXIT.usage;
  }
  stderr.write(`lsm: unexpected internal error: ${describeUnexpected(err)}\nhint: this is a bug in lsm; please report it\n`);
  return EXIT.failure;
}

/** The exit code of a crash reported by reportCrashes, if one was. */
let crashed: number | undefined;

/**
 * Reports what escapes every await (a throw in a callback) the same way, once. The
 * reader of stdout/stderr going away (`lsm ... | head`) is no error: there is no one
 * left to tell, and writing again would only fail again.
 */
export function reportCrashes(): void {
  process.on('uncaughtException', (err) => {
    if (crashed !== undefined || (err as { code?: unknown })?.code === 'EPIPE') process.exit(process.exitCode ?? 1);
    crashed = process.exitCode = reportError(err);
  });
}

/**
 * The exit code of a run whose command resolved to `code`: a crash reported on the way
 * (a throw in a callback while the command went on) is never turned into success.
 */
export function finalExitCode(code: number): number {
  return code === 0 && crashed !== undefined ? crashed : code;
}
