import type { Command } from 'commander';
import { action, examples } from './action.js';

/** Protections for agent callers: canary secrets (the egress policy lives in config.yaml, see docs/policy.md). */
export function registerAgent(program: Command): void {
  const canary = program
    .command('canary')
    .description('decoy secrets that record a canary.read when revealed')
    .addHelpText('after', `
A canary is a secret with a realistic but worthless value. Honest work never reads it:
'lsm exec', 'lsm dump' and 'lsm gh push' leave canaries out unless --with-canaries is
given. A get, dump or edit that reveals one records a 'canary.read' event, which 'lsm audit suspicious' flags with the
reason 'canary' and which is shipped at once where OTLP shipping is on. Canaries are
named in <home>/canaries.json (never their values).
${examples('$ lsm canary add myapp prod AWS_SECRET_ACCESS_KEY', '$ lsm canary list', '$ lsm canary remove myapp prod AWS_SECRET_ACCESS_KEY')}`);

  canary
    .command('add')
    .description('store a decoy secret with a generated, realistic value')
    .argument('[args...]', '[app] [env] NAME')
    .option('--like <kind>', 'value format: aws, stripe, github or generic (default: from the name)')
    .addHelpText('after', `
Formats: aws (AKIA + 16 characters, or a 40-character secret key when NAME says SECRET),
stripe (sk_live_...), github (ghp_...), generic (32 letters and digits). NAME must not
exist in the store: a canary never replaces a secret.
${examples('$ lsm canary add AWS_ACCESS_KEY_ID', '$ lsm canary add myapp prod STRIPE_LIVE_KEY --like stripe')}`)
    .action(action(() => import('../commands/canary.js')));

  canary
    .command('list')
    .alias('ls')
    .description('list canaries (app, env, name, kind, created); never values')
    .argument('[args...]', '[app] [env] to filter')
    .option('--format <fmt>', 'auto (a table on a terminal, rows without the header when piped), text or json', 'auto')
    .addHelpText('after', examples('$ lsm canary list', '$ lsm canary list myapp', '$ lsm canary list --format json'))
    .action(action(() => import('../commands/canary.js')));

  canary
    .command('remove')
    .alias('rm')
    .description('remove a canary: its key from the store and its registry entry')
    .argument('[args...]', '[app] [env] NAME')
    .addHelpText('after', examples('$ lsm canary remove myapp prod AWS_SECRET_ACCESS_KEY'))
    .action(action(() => import('../commands/canary.js')));
}
