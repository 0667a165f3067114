import { makeContext, type ContextOverrides } from './context.js';
import { reportError } from './report.js';
import { Output } from './term/output.js';
import { parseFastGet } from './get-argv.js';

/** Runs `argv` if it is a plain `get` and returns its exit code; undefined (nothing done) otherwise. */
export function runFastGet(argv: string[], overrides: ContextOverrides = {}): Promise<number> | undefined {
  const fast = parseFastGet(argv);
  if (!fast) return undefined;
  return (async () => {
    try {
      const ctx = makeContext(fast.flags, argv, overrides);
      const { run } = await import('./commands/get.js');
      return (await run(ctx, fast.args)) ?? 0;
    } catch (err) {
      // Synchronous, as every write of the get path: its bundle exits as soon as it is done.
      return reportError(err, new Output(2));
    }
  })();
}
