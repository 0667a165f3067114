import { Command } from 'commander';
import { action, examples } from './action.js';

const AUDIT_NOTE = `
Every call is recorded in the audit log (<home>/audit.jsonl). A command that reveals or
changes a secret fails when its event cannot be recorded, unless config.yaml says
'audit: {on_failure: open}'.`;

export function registerSecrets(program: Command): void {
  program
    .command('init')
    .description('create the lsm home, its age key (key.age or key.txt) and config.yaml')
    .option('--force', 'replace an existing key (the old one is kept as key.txt.<time>.bak)')
    .option('--protect', 'keep the key only passphrase-encrypted, as key.age (the default on a terminal)')
    .option('--no-protect', 'keep the key as plaintext key.txt (the default off a terminal)')
    .addHelpText('after', `
A protected home's key opens only with the passphrase (asked twice, without echo; off
a terminal, the first line of stdin). 'age -d -i <home>/key.age FILE' opens a store
after asking it.
${examples('$ lsm init', '$ lsm init --no-protect', "$ printf '%s\\n' \"$PASS\" | lsm --dir /tmp/lsm-demo init --protect")}`)
    .action(action(() => import('../commands/init.js')));

  program
    .command('link')
    .description('link the current directory (and its subdirectories) to an app name')
    .argument('<app>', 'app name: letters, digits, _ and -')
    .addHelpText('after', examples('$ cd ~/code/myapp && lsm link myapp'))
    .action(action(() => import('../commands/link.js')));

  program
    .command('unlink')
    .description('forget the directory linked to an app (its stores are kept)')
    .argument('[app]', 'app name (default: the app linked to the current directory or its nearest ancestor)')
    .addHelpText('after', examples('$ cd ~/code/myapp && lsm unlink', '$ lsm unlink oldapp'))
    .action(action(() => import('../commands/unlink.js')));

  program
    .command('set')
    .description('store a secret')
    .argument('[args...]', '[app] [env] KEY [VALUE|-]')
    .addHelpText('after', `
Forms:
  lsm set KEY                 prompt for the value (no echo) on a terminal, else read stdin
                              (nothing on stdin is refused: use '' to store an empty value)
  lsm set KEY VALUE           the last two arguments are always KEY VALUE
  lsm set KEY -               read the value from stdin (one trailing newline is dropped;
                              an empty stdin is refused, so a failed producer blanks nothing)
  lsm set app KEY VALUE       app given, env resolved
  lsm set app env KEY VALUE   both given
A VALUE on the command line lands in shell history; prefer the prompt or stdin.
A lowercase KEY that is also an app or env name is refused as ambiguous
('lsm set myapp KEY' would otherwise store a key named myapp): use --app/--env.
${AUDIT_NOTE}
${examples('$ lsm set API_KEY', '$ printf %s "$TOKEN" | lsm set myapp prod API_KEY -', '$ lsm set -a myapp -e dev DB_URL postgres://localhost/dev')}`)
    .action(action(() => import('../commands/set.js')));

  program
    .command('get')
    .description('print a secret to stdout (no newline added when piped)')
    .argument('[args...]', '[app] [env] KEY')
    .option('--reason <text>', 'why the plaintext is needed (recorded; the egress policy may ask for it; also LSM_REASON)')
    .addHelpText('after', `
With one argument before KEY, that argument is the app (or the env when --app is given).
An agent reading a prod* env needs --reason by default; config.yaml 'policy:' decides
(docs/policy.md). A refusal exits 4 and names no value.
${AUDIT_NOTE}
${examples('$ lsm get API_KEY', '$ curl -H "Authorization: Bearer $(lsm get myapp prod API_KEY)" ...')}`)
    .action(action(() => import('../commands/get.js')));

  program
    .command('delete')
    .alias('rm')
    .description('remove a secret')
    .argument('[args...]', '[app] [env] KEY')
    .addHelpText('after', examples('$ lsm delete OLD_TOKEN', '$ lsm delete myapp staging OLD_TOKEN'))
    .action(action(() => import('../commands/delete.js')));

  program
    .command('list')
    .alias('ls')
    .description('list the key names of a store (never values)')
    .argument('[args...]', '[app] [env]')
    .option('--format <fmt>', 'auto (text on a terminal, one name a line when piped), text or json', 'auto')
    .addHelpText('after', `
A store that does not exist is an error (exit 1), as for get, exec and dump.
${examples('$ lsm list', '$ lsm list myapp prod', '$ lsm list --format json | jq -r .keys[]')}`)
    .action(action(() => import('../commands/list.js')));

  const apps = program
    .command('apps')
    .description('list app names (from the stores and the linked projects)')
    .option('--format <fmt>', 'auto (a table on a terminal, one name a line when piped), text or json', 'auto')
    .addHelpText('after', examples('$ lsm apps', '$ lsm apps --format json', '$ lsm apps rm oldapp'))
    .action(action(() => import('../commands/apps.js')));
  apps
    .command('rm')
    .description('remove an app: every store of it (the secrets are lost) and its link')
    .argument('[app]', 'app name')
    .option('-f, --force', 'do not ask (required off a terminal)')
    .addHelpText('after', examples('$ lsm apps rm oldapp', '$ lsm apps rm oldapp --force'))
    .action(action(async () => ({ run: (await import('../commands/remove.js')).removeApp })));

  const envs = program
    .command('envs')
    .description('list the environments of an app')
    .argument('[app]', 'app name (default: the linked project of the cwd)')
    .option('--format <fmt>', 'auto (one name a line), text or json', 'auto')
    .addHelpText('after', examples('$ lsm envs myapp', '$ lsm envs --format json', '$ lsm envs rm myapp staging'))
    .action(action(() => import('../commands/envs.js')));
  envs
    .command('rm')
    .description('remove the store of one app and env (its secrets are lost)')
    .argument('[args...]', 'APP ENV')
    .option('-f, --force', 'do not ask (required off a terminal)')
    .addHelpText('after', examples('$ lsm envs rm myapp staging', '$ lsm envs rm myapp staging --force'))
    .action(action(async () => ({ run: (await import('../commands/remove.js')).removeEnv })));

  program
    .command('version')
    .description('print version and build information')
    .addHelpText('after', examples('$ lsm version', '$ lsm --version'))
    .action(action(() => import('../commands/version.js')));

  program
    .command('completion')
    .description('print a shell completion script')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText('after', examples('$ source <(lsm completion bash)', '$ lsm completion fish > ~/.config/fish/completions/lsm.fish'))
    .action(action(() => import('../commands/completion.js')));

  program
    .command('__complete', { hidden: true })
    .argument('[what...]', 'apps, envs, or keys -- <words of the line>')
    .action(action(() => import('../commands/complete.js')));
}
