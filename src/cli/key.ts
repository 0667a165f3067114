import type { Command } from 'commander';
import { action, examples } from './action.js';

/** `lsm key ...`: the home's identity. */
export function registerKey(program: Command): Command {
  const key = program
    .command('key')
    .description("manage the home's age key")
    .addHelpText('after', examples('$ lsm key protect', '$ lsm key rotate'));

  key.command('protect')
    .description('encrypt the key with a passphrase (key.age) and remove every plaintext copy from the home')
    .addHelpText('after', `
key.txt and each key.txt.<time>.bak become passphrase-encrypted age files (key.age,
key.txt.<time>.bak.age); the plaintext files are zeroed, then removed. The passphrase
is asked twice without echo; off a terminal it is the first line of stdin.
${examples('$ lsm key protect', '$ age -d -i ~/.lsm/key.age ~/.lsm/myapp.dev.age   # asks the passphrase')}`)
    .action(action(() => import('../commands/key-protect.js')));
  key.command('rotate')
    .description('make a new key and re-encrypt every store to it; the old key is kept as a backup')
    .addHelpText('after', `
Each store is rewritten under its lock, first to both keys, then (after key.txt holds
the new key) to the new one only: a rotation killed at any point leaves every store
readable, its journal (key.rotating, 0600) holds the new key, and the next
'lsm key rotate' finishes it. One event, key.rotate, is recorded before any change.
The old key stays in key.txt.<time>.bak (0600) for older copies of the stores (backups):
delete it when none is left.

In a protected home the passphrase is asked (off a terminal: the first line of stdin)
and handed on a pipe to a new keeper, as 'lsm unlock' does: it stops the running
keeper, rotates, writes key.age with the new key under the same passphrase, keeps the
old key as key.txt.<time>.bak.age (encrypted with the passphrase), and serves. This
lsm never holds a key.
${examples('$ lsm key rotate')}`)
    .action(action(() => import('../commands/key-rotate.js')));
  return key;
}
