import type { Command } from 'commander';
import { makeContext, type Context, type ContextOverrides } from '../context.js';

/** A command module: everything after argument parsing. Returns the exit code. */
export interface CommandModule {
  run(ctx: Context, args: string[], opts: Record<string, any>, cmd: Command): Promise<number | void>;
}

let overrides: ContextOverrides = {};
let exitCode = 0;

export function setOverrides(o: ContextOverrides): void {
  overrides = o;
}

export function lastExitCode(): number {
  return exitCode;
}

/**
 * Wraps a lazily imported command module as a commander action, so that starting
 * `lsm get` never evaluates the code of `lsm audit stats`.
 */
export function action(load: () => Promise<CommandModule>) {
  return async (...params: unknown[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command;
    const opts = cmd.opts();
    const all = cmd.optsWithGlobals();
    const ctx = makeContext({ app: all.app, env: all.env, dir: all.dir }, process.argv.slice(2), overrides);
    // A killed edit's plaintext is removed by whichever command runs next. Imported here, not
    // at the top: this module loads with the command tree, and the sweep pulls in the audit
    // log, which `lsm --version` and `--help` never touch (2-3 ms of their start-up).
    const { sweepAndRecord } = await import('../edit-temp.js');
    await sweepAndRecord(ctx);
    const { checkConfig } = await import('./config-check.js');
    await checkConfig(ctx, cmd);
    const mod = await load();
    const code = await mod.run(ctx, cmd.args, opts, cmd);
    exitCode = typeof code === 'number' ? code : 0;
  };
}

/** Help text block of examples, shown after the options. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}
