import type { Command } from 'commander';
import { action, examples } from './action.js';
import { auditCommand, auditSubcommand } from './audit.js';

const SEAL_HELP = `
Forward-secure seals (docs/tamper-evidence.md): 'seal init' prints a verification key
once and keeps on disk only the key of the next row. Every row is then sealed with
the key of its own seq, and the key is evolved one way right after, so whoever reads
the key file later can forge no row written before. Keep the verification key off
this machine; 'lsm audit verify --verification-key' checks every seal with it.
`;

const VERIFY_SEALS_HELP = `
Verdicts: integrity (the chain, and the anchors), seals (each sealed row against the
key of its own seq, with --verification-key) and completeness (the end of the log
against the seal key file's index and the anchors). Exit 1 when any of them fails;
what could not be checked is said, not assumed. Pass the key as a file or on stdin
(-): on the command line other processes of this user can read it.
`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `lsm audit seal init|status`, and the seal and anchor options of `lsm audit verify`. */
export function registerAuditSeal(program: Command): void {
  const audit = auditCommand(program);
  const seal = audit
    .command('seal')
    .description('Forward-secure seals on every audit row: start them, see their state')
    .addHelpText('after', SEAL_HELP);
  auditSubcommand(seal, 'init', 'Start sealing: print the verification key once, keep only the next row\'s key')
    .option('--force', 'start a new key although sealing is on (the old verification key still checks the rows up to here)')
    .addHelpText('after', examples('lsm audit seal init', 'lsm audit seal init --format json | jq -r .verification_key'))
    .action(action(() => import('../commands/audit-seal.js')));
  auditSubcommand(seal, 'status', 'Show whether rows are sealed, and the seal key file\'s index against the log')
    .action(action(() => import('../commands/audit-seal.js')));

  const verify = audit.commands.find((c) => c.name() === 'verify');
  if (!verify) throw new Error('registerAudit() must run before registerAuditSeal()');
  verify
    .option('--verification-key <key>', "check every seal: the key 'seal init' printed, a file holding it, or - for stdin (repeatable)", collect, [])
    .option('--anchors <file>', 'chain heads shipped off the machine, one JSON checkpoint per line')
    .option('--anchor-host <name>', 'whose checkpoints to use when the anchors file holds several hosts')
    .addHelpText('after', `${VERIFY_SEALS_HELP}${examples(
      'lsm audit verify --verification-key ~/safe/lsm-vk.txt',
      'pass show lsm/vk | lsm audit verify --verification-key -',
      'lsm audit verify --anchors anchors.jsonl',
    )}`);
}
