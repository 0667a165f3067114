import type { Command } from 'commander';
import { action, examples } from './action.js';

/** The keeper of a protected home: unlock, lock, status (docs/keeper.md). */
export function registerKeeper(program: Command): void {
  program
    .command('unlock')
    .description('give the passphrase to a keeper that holds the key of a protected home')
    .option('--ttl <duration>', 'lock at the latest after this long (default 8h)')
    .option('--idle <duration>', 'lock after this long without a request (default 30m)')
    .option('--acknowledge', "acknowledge the log's recorded rollbacks (audit.rewound) so that verify passes again")
    .addHelpText('after', `
The passphrase is read from the terminal without echo, or from stdin when stdin is
not a terminal. The keeper runs detached, holds the key in memory only, makes itself
non-dumpable, and is the only writer of the home's audit log while it runs. A change
to config.yaml that loosens the policy or audit.on_failure, or changes approval:,
takes effect only after the next unlock. Approvals ('ask' in the policy) are asked
on this terminal and display (DISPLAY, WAYLAND_DISPLAY) unless config.yaml's
approval: names others; each prompt shows the seal printed here.
${examples('$ lsm unlock', '$ lsm unlock --ttl 2h --idle 10m', '$ lsm unlock --acknowledge')}`)
    .action(action(() => import('../commands/unlock.js')));

  program
    .command('lock')
    .description('wipe the key from the keeper (it exits); secrets need the passphrase again')
    .addHelpText('after', examples('$ lsm lock'))
    .action(action(() => import('../commands/lock.js')));

  const keeper = program
    .command('keeper')
    .description('the keeper of a protected home: status, stop')
    .addHelpText('after', examples('$ lsm keeper status', '$ lsm keeper status --format json', '$ lsm keeper stop'));

  keeper
    .command('status')
    .description('is the home protected, does a keeper hold its key, dumpable, ptrace_scope')
    .option('--format <format>', 'auto, json or text (auto: text on a terminal, JSON when piped)')
    .addHelpText('after', examples('$ lsm keeper status', '$ lsm keeper status --format json | jq .running'))
    .action(action(() => import('../commands/keeper-status.js')));

  keeper
    .command('stop')
    .description('stop the keeper (as lsm lock)')
    .addHelpText('after', examples('$ lsm keeper stop'))
    .action(action(() => import('../commands/lock.js')));

  program
    .command('__keeper', { hidden: true })
    .requiredOption('--ttl <ms>')
    .requiredOption('--idle <ms>')
    .option('--acknowledge')
    // How long after an append the head is checkpointed; only the fault suite shortens it.
    .option('--checkpoint-ms <ms>', '', '1000')
    .option('--channel <json>')
    .option('--rotate')
    .action(action(() => import('../commands/keeper-daemon.js')));
}
