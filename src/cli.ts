import { lastExitCode, setOverrides } from './cli/action.js';
import type { ContextOverrides } from './context.js';
import { runFastGet } from './fast.js';
import { reportError } from './report.js';

/** Runs lsm with `argv` (the arguments after the program name); resolves to the exit code. */
export async function main(argv: string[], overrides: ContextOverrides = {}): Promise<number> {
  setOverrides(overrides);
  const fast = runFastGet(argv, overrides);
  if (fast) return fast;
  try {
    const { runProgram } = await import('./program.js');
    await runProgram(argv);
    return lastExitCode();
  } catch (err) {
    return reportError(err);
  }
}
