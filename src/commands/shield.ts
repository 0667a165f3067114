import { usage } from '../errors.js';
import type { Context } from '../context.js';

interface Opts {
  allowRead?: string[];
  envFiles?: boolean;
  printConfig?: string;
}

/** `shield [--allow-read PATH]... -- command [args...]`, or `shield --print-config claude|codex`. */
export async function run(ctx: Context, args: string[], opts: Opts): Promise<number> {
  if (opts.printConfig !== undefined) {
    const { printConfig } = await import('../shield/print-config.js');
    ctx.stdout.write(printConfig(opts.printConfig, ctx.home.dir));
    return 0;
  }
  const dash = ctx.argv.indexOf('--');
  const command = dash === -1 ? [] : ctx.argv.slice(dash + 1);
  if (command.length === 0 || command.length > args.length) {
    const guess = dash === -1 && args.length > 0 ? ` (did you mean \`lsm shield -- ${args.join(' ')}\`?)` : '';
    throw usage('missing the command to run', `lsm shield [--allow-read PATH]... -- command [args...]${guess}`);
  }
  if (args.length > command.length) throw usage('lsm shield takes no arguments before --', 'lsm shield [--allow-read PATH]... -- command [args...]');
  const { runShield } = await import('../shield/run.js');
  return runShield(ctx, { command, allowRead: opts.allowRead ?? [], envFiles: opts.envFiles !== false });
}
