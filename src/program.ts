import { Command } from 'commander';
import { registerSecrets } from './cli/secrets.js';
import { registerDotenv } from './cli/dotenv.js';
import { registerAudit } from './cli/audit.js';
import { registerAuditShip } from './cli/audit-ship.js';
import { registerAuditSuspicious } from './cli/audit-suspicious.js';
import { registerAuditSeal } from './cli/audit-seal.js';
import { registerAgent } from './cli/agent.js';
import { registerGh } from './cli/gh.js';
import { registerKeeper } from './cli/keeper.js';
import { registerKey } from './cli/key.js';
import { registerShield } from './cli/shield.js';
import { VERSION } from './version.js';
import { checkExecDash } from './cli/exec-hint.js';

/** The whole command tree. Command modules are imported only when their action runs. */
export function buildProgram(): Command {
  const program = new Command('lsm')
    .description('Local Secrets Manager: per-app, per-env secrets encrypted with age, every access audited')
    .option('-d, --dir <path>', 'lsm home (default: $LSM_DIR, then ~/.lsm)')
    .option('-a, --app <name>', 'app name (default: the linked project of the cwd)')
    .option('-e, --env <name>', "environment (default: .lsm.yaml of a linked project, then config.yaml 'env:')")
    .version(`lsm ${VERSION}`, '-V, --version', 'print the version (also: lsm -v)')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true });
  registerSecrets(program);
  registerDotenv(program);
  registerAudit(program);
  registerAuditShip(program);
  registerAuditSuspicious(program);
  registerAuditSeal(program);
  registerAgent(program);
  registerGh(program);
  registerKeeper(program);
  registerKey(program);
  registerShield(program);
  applyDefaults(program);
  return program;
}

// Usage errors read like every other error: `lsm: ...` and a hint on stderr, exit 2.
function applyDefaults(cmd: Command): void {
  cmd.exitOverride().configureOutput({
    outputError: (str, write) => {
      const [first, ...rest] = str.replace(/^error: /, '').trimEnd().split('\n');
      const guess = /\(Did you mean (.+)\?\)/.exec(rest.join(' '))?.[1];
      const path: string[] = [];
      for (let c: Command | null = cmd; c && c.parent; c = c.parent) path.unshift(c.name());
      const help = `'${['lsm', ...path].join(' ')} --help' ${path.length === 0 ? 'lists the commands' : 'shows its options and examples'}`;
      write(`lsm: ${first}\nhint: ${guess ? `did you mean ${guess}? ` : ''}${help}\n`);
    },
  });
  for (const sub of cmd.commands) applyDefaults(sub);
}

export async function runProgram(argv: string[]): Promise<void> {
  const program = buildProgram();
  // The original's `lsm -v`; inside subcommands -v means --verbose.
  if (argv.length === 1 && argv[0] === '-v') argv = ['--version'];
  if (argv.length === 0) {
    program.outputHelp();
    return;
  }
  checkExecDash(argv);
  await program.parseAsync(argv, { from: 'user' });
}
