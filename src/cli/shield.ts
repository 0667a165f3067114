import type { Command } from 'commander';
import { action, examples } from './action.js';

const collect = (v: string, all: string[] = []) => [...all, v];

/** `lsm shield`: run an agent that can use secrets through lsm but cannot read lsm's files (docs/shield.md). */
export function registerShield(program: Command): void {
  program
    .command('shield')
    .description("run a command (an agent) that can use secrets through the keeper but cannot read the lsm home's files")
    .argument('[args...]', '-- command [args...]')
    .usage('[options] -- command [args...]')
    .option('--allow-read <path>', 'leave this .env or *.age file under the project readable (repeatable)', collect)
    .option('--no-env-files', 'protect only the lsm home, not .env, .env.* and *.age files under the current directory')
    .option('--print-config <agent>', "print the sandbox settings of the agent's own (claude or codex) that deny the lsm home, and exit")
    .addHelpText('after', `
Linux only (Landlock ABI ${3} or later, no root needed). The command and every process it
starts can neither read, copy, hard-link, write, truncate nor replace the files of the
lsm home (and of any other that LSM_DIR or ~/.lsm names), nor read .env, .env.* (not .env.example/.sample/.template/.dist) and *.age
files found up to 4 levels under the current directory; everything else stays as it
was. The keeper's socket stays reachable, so lsm commands inside work through the
keeper of a protected home (unlock it first, outside the shield), and the keeper
records them with the shield as the actor however the process disguises itself.
Files created later directly in a directory on the way to a protected path (a new
file in ~, a new file beside a protected .env) cannot be read there: see docs/shield.md.
Refuses (exit 126) rather than run the command unprotected when the kernel has no
usable Landlock. Exits with the command's status; signals are passed on.
${examples('$ lsm shield -- claude', '$ lsm shield --allow-read .env.test -- codex', "$ lsm shield -- sh -c 'lsm exec -- npm test'", '$ lsm shield --print-config claude')}`)
    .action(action(() => import('../commands/shield.js')));
}
