import { LsmError, EXIT } from './errors.js';
import { lastExitCode, setOverrides } from './cli/action.js';
import { makeContext, type ContextOverrides } from './context.js';

/**
 * The entry point. `lsm get` sits inside `$(...)` in scripts, so its plain forms are
 * parsed here by hand and run without loading commander and the command tree; every
 * other invocation (and any flag the fast path does not know) goes to program.ts.
 */
const GLOBAL = new Map([['-d', 'dir'], ['--dir', 'dir'], ['-a', 'app'], ['--app', 'app'], ['-e', 'env'], ['--env', 'env']]);

function fastGet(argv: string[]): { flags: Record<string, string>; args: string[] } | undefined {
  const flags: Record<string, string> = {};
  const args: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = GLOBAL.get(eq > 0 && a.startsWith('--') ? a.slice(0, eq) : a);
    if (name) {
      const value = eq > 0 && a.startsWith('--') ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || flags[name] !== undefined) return undefined;
      flags[name] = value;
    } else if (a.startsWith('-')) {
      return undefined;
    } else if (command === undefined) {
      if (a !== 'get') return undefined;
      command = a;
    } else {
      args.push(a);
    }
  }
  return command ? { flags, args } : undefined;
}

// Unknown failures are reported by type only: a message from deep inside a parser can
// quote the input it choked on, and that input may be a secret.
function describeUnexpected(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${err.name}${typeof code === 'string' ? ` (${code})` : ''}`;
  }
  return typeof err;
}

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

export async function main(argv: string[], overrides: ContextOverrides = {}): Promise<number> {
  setOverrides(overrides);
  try {
    const fast = fastGet(argv);
    if (fast) {
      const ctx = makeContext(fast.flags, argv, overrides);
      const { run } = await import('./commands/get.js');
      return (await run(ctx, fast.args)) ?? 0;
    }
    const { runProgram } = await import('./program.js');
    await runProgram(argv);
    return lastExitCode();
  } catch (err) {
    return reportError(err);
  }
}
