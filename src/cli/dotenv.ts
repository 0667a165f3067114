import type { Command } from 'commander';
import { action, examples } from './action.js';

const FILES = `
.env files of the current directory: '.env' and '.env.*', except names ending in
.example, .sample or .template (templates meant to be committed).`;

/** Commands that move secrets between lsm and .env files, editors and processes. */
export function registerDotenv(program: Command): void {
  program
    .command('import')
    .description('merge a .env file into a store (key names are printed, never values)')
    .argument('[args...]', '[app] [env] [FILE|-]')
    .usage('[options] [app] [env] [FILE|-]')
    .option('-n, --dry-run', 'list what would change (+ added, ~ changed, = unchanged) and write nothing')
    .addHelpText('after', `
Existing keys keep their place and new ones are appended with their lines as written;
the comments above each key, the file's header and its last comments come too, unless
the store has them already (into an empty store the file goes as it is). A file named
.env.<env> (.env.production) goes into that env when no env is given (an existing env
of the same meaning, prod for production, is preferred). The whole file is parsed first: a malformed line imports nothing. Without
FILE, the one .env file of the current directory is read; when there are several, lsm
lists them and asks you to name one. FILE is the last argument when it is '-' (stdin),
a path or a name with a dot; a plain word that is also a file here is refused as
ambiguous (write ./word). The dry run is recorded too: it tells whether values match.
${FILES}
${examples('$ lsm import', '$ lsm import myapp prod .env.production', '$ cat .env | lsm import myapp dev -', '$ lsm import --dry-run ./config/dev.env')}`)
    .action(action(() => import('../commands/import.js')));

  program
    .command('dump')
    .description('write a store to a .env file (mode 0600), showing only masked values')
    .argument('[args...]', '[app] [env]')
    .usage('[options] [app] [env]')
    .option('-o, --output <file>', 'file to write (default: .env in the current directory)')
    .option('--stdout', 'print the plaintext .env text to stdout instead of writing a file')
    .option('-f, --force', 'replace an existing file without asking')
    .option('--with-canaries', 'include canary secrets (left out by default; recorded as canary reads)')
    .option('--reason <text>', 'why the plaintext is needed (recorded; the egress policy may ask for it; also LSM_REASON)')
    .addHelpText('after', `
The file holds the store's text exactly (comments included), without its canaries
unless --with-canaries, and is replaced atomically.
An existing file is replaced only after a yes on the terminal, or with --force. Inside a
git work tree, a file that git does not ignore yet is added to the .gitignore of its
directory (as /NAME). Values on the terminal are masked: values shorter than 16
characters show as ********, longer ones show their first two characters (sk********).
${examples('$ lsm dump', '$ lsm dump myapp prod -o .env.production --force', "$ lsm dump --stdout | ssh deploy@host 'umask 077; cat > app/.env'")}`)
    .action(action(() => import('../commands/dump.js')));

  program
    .command('edit')
    .description('edit a store in $VISUAL, $EDITOR or vi')
    .argument('[args...]', '[app] [env]')
    .option('--reason <text>', 'why the plaintext is needed (recorded; the egress policy may ask for it; also LSM_REASON)')
    .usage('[app] [env]')
    .addHelpText('after', `
The text is written to a 0600 file in a private directory inside the lsm home, and
zeroed and removed when the editor exits, whatever happens. An unchanged file saves
nothing; text that no longer parses is reported with its line and the store is left
as it was (on a terminal you may edit again). If the store changed meanwhile, changes
to different keys are merged and changes to the same key are refused.
${examples('$ lsm edit', '$ EDITOR="code --wait" lsm edit myapp prod')}`)
    .action(action(() => import('../commands/edit.js')));

  program
    .command('clean')
    .alias('c')
    .description('remove .env files whose every value is already in the store')
    .argument('[args...]', '[app] [env]')
    .usage('[options] [app] [env]')
    .option('-f, --force', 'remove without asking')
    .addHelpText('after', `
A file is removed only when every key in it is in the store with the same value and
every comment in it is in the store too; for the others, the keys that are missing or
differ, or the lines of the missing comments, are listed (names only). The files are
listed and, on a terminal, confirmed first; without a terminal, --force is needed.
Each file is overwritten with zeros before it is unlinked (a best effort on SSDs).
${FILES}
${examples('$ lsm import && lsm clean', '$ lsm clean myapp dev --force')}`)
    .action(action(() => import('../commands/clean.js')));

  program
    .command('exec')
    .description('run a command with the secrets of a store in its environment')
    .argument('[args...]', '[app] [env] -- command [args...]')
    .usage('[options] [app] [env] -- command [args...]')
    .option('--only <keys>', 'inject only these keys (comma-separated); a missing one is an error')
    .option('--pristine', 'start from PATH, HOME, USER, SHELL, TERM and LANG only, plus the secrets')
    // masked output, canaries, reason
    .option('--mask', "replace the secrets' values (raw, base64, URL- and JSON-encoded) in the output with [masked]")
    .option('--no-mask', 'show the output as is (plaintext egress: the egress policy applies)')
    .option('--with-canaries', 'inject canary secrets too (left out by default; recorded as canary reads)')
    .option('--reason <text>', 'why the plaintext is needed (recorded; the egress policy may ask for it; also LSM_REASON)')
    .addHelpText('after', `
Secrets override inherited variables of the same name. The command shares lsm's stdin,
stdout and stderr (a terminal stays a terminal); SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2
sent to lsm are passed on, and so are SIGINT, SIGQUIT and SIGWINCH unless the terminal
already sent them to the command. lsm exits with the command's status, or dies of the
same signal. A command that cannot be found exits 127.
Masking is on by default for agents and callers without a terminal, off for a
person at a terminal; values shorter than 6 bytes are not masked. Masked output on a
terminal runs the command in a pseudo-terminal (stdout and stderr then share it).
Canaries are left out unless --with-canaries. See docs/policy.md.
${examples('$ lsm exec -- npm start', `$ lsm exec myapp prod --only DATABASE_URL -- sh -c 'psql "$DATABASE_URL"'`, '$ lsm exec --pristine -- env')}`)
    .action(action(() => import('../commands/exec.js')));
}
