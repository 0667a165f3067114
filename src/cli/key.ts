import type { Command } from 'commander';
import { action, examples } from './action.js';

/** `lsm key ...`: the home's identity. */
export function registerKey(program: Command): Command {
  const key = program
    .command('key')
    .description("manage the home's age key")
    .addHelpText('after', examples('$ lsm key protect'));

  key.command('protect')
    .description('encrypt the key with a passphrase (key.age) and remove every plaintext copy from the home')
    .addHelpText('after', `
key.txt and each key.txt.<time>.bak become passphrase-encrypted age files (key.age,
key.txt.<time>.bak.age); the plaintext files are zeroed, then removed. The passphrase
is asked twice without echo; off a terminal it is the first line of stdin.
${examples('$ lsm key protect', '$ age -d -i ~/.lsm/key.age ~/.lsm/myapp.dev.age   # asks the passphrase')}`)
    .action(action(() => import('../commands/key-protect.js')));
  return key;
}
