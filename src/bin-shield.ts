import { makeContext } from './context.js';
import { finalExitCode, reportCrashes, reportError } from './report.js';
import { Output } from './term/output.js';
import type { ShieldOptions } from './shield/run.js';

/**
 * `lsm shield [--dir D] [--allow-read P]... [--no-env-files] -- command...`, parsed here
 * by hand so that starting an agent under the shield loads no commander and no command
 * tree. Anything else (--help, --print-config, a flag this does not know, a missing
 * command) is for program.ts, which says what is wrong.
 */
export function parseFastShield(argv: string[]): { dir?: string; opts: ShieldOptions } | undefined {
  let dir: string | undefined;
  let i = 0;
  for (; i < argv.length && argv[i] !== 'shield'; i++) {
    const a = argv[i]!;
    if (a === '-d' || a === '--dir') dir = argv[++i];
    else if (a.startsWith('--dir=')) dir = a.slice(6);
    else return undefined;
    if (dir === undefined) return undefined;
  }
  if (argv[i] !== 'shield') return undefined;
  const opts: ShieldOptions = { command: [], allowRead: [], envFiles: true };
  for (i++; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      opts.command = argv.slice(i + 1);
      return opts.command.length > 0 ? { dir, opts } : undefined;
    }
    if (a === '--no-env-files') opts.envFiles = false;
    else if (a === '--allow-read' && argv[i + 1] !== undefined) opts.allowRead.push(argv[++i]!);
    else if (a.startsWith('--allow-read=')) opts.allowRead.push(a.slice(13));
    else return undefined;
  }
  return undefined;
}

/** The entry of dist/lsm-shield.cjs. false: not a plain shield, nothing was done. */
export function start(argv: string[]): boolean {
  const parsed = parseFastShield(argv);
  if (!parsed) return false;
  const ctx = makeContext(parsed.dir === undefined ? {} : { dir: parsed.dir }, argv);
  reportCrashes();
  void (async () => {
    let code: number;
    try {
      const { runShield } = await import('./shield/run.js');
      code = await runShield(ctx, parsed.opts);
    } catch (err) {
      code = reportError(err, new Output(2));
    }
    process.exit(finalExitCode(code));
  })();
  return true;
}
