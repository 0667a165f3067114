import { Command, CommanderError } from 'commander';
import { LsmError, EXIT } from './errors.js';
import { lastExitCode, setOverrides } from './cli/action.js';
import { registerSecrets } from './cli/secrets.js';
import { registerDotenv } from './cli/dotenv.js';
import { registerAudit } from './cli/audit.js';
import { registerAgent } from './cli/agent.js';
import { registerGh } from './cli/gh.js';
import type { ContextOverrides } from './context.js';

declare const LSM_VERSION: string;
export const VERSION = typeof LSM_VERSION === 'string' ? LSM_VERSION : '0.0.0-dev';

export function buildProgram(): Command {
  const program = new Command('lsm')
    .description('Local Secrets Manager: per-app, per-env secrets encrypted with age, every access audited')
    .option('-d, --dir <path>', 'lsm home (default: $LSM_DIR, then ~/.lsm)')
    .option('-a, --app <name>', 'app name (default: .lsm.yaml, then the linked project of the cwd)')
    .option('-e, --env <name>', "environment (default: .lsm.yaml, then config.yaml 'env:')")
    .version(`lsm ${VERSION}`, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => write(`lsm: ${str.replace(/^error: /, '')}`),
    });
  registerSecrets(program);
  registerDotenv(program);
  registerAudit(program);
  registerAgent(program);
  registerGh(program);
  for (const cmd of program.commands) applyDefaults(cmd);
  return program;
}

function applyDefaults(cmd: Command): void {
  cmd.exitOverride().configureOutput({
    outputError: (str, write) => write(`lsm: ${str.replace(/^error: /, '')}`),
  });
  for (const sub of cmd.commands) applyDefaults(sub);
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

export function reportError(err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof LsmError) {
    stderr.write(`lsm: ${err.message}\n`);
    if (err.hint) stderr.write(`hint: ${err.hint}\n`);
    return err.exit;
  }
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    if (err.code === 'commander.executeSubCommandAsync') return EXIT.failure;
    return EXIT.usage;
  }
  stderr.write(`lsm: unexpected internal error: ${describeUnexpected(err)}\nhint: this is a bug in lsm; please report it\n`);
  return EXIT.failure;
}

export async function main(argv: string[], overrides: ContextOverrides = {}): Promise<number> {
  setOverrides(overrides);
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.ok;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return lastExitCode();
  } catch (err) {
    return reportError(err);
  }
}

// Entry point of the bundle (and of `tsx src/cli.ts`).
const isMain = typeof require !== 'undefined' ? require.main === module : process.argv[1]?.endsWith('cli.ts');
if (isMain) {
  process.on('uncaughtException', (err) => {
    process.exitCode = reportError(err);
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
