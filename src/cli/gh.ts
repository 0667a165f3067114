import type { Command } from 'commander';
import { action, examples } from './action.js';

const BINDING = `
The project is the directory: the app is the lsm project linked to the current
directory or its nearest linked ancestor (the original lsm required the exact
directory); --app is refused and .lsm.yaml cannot choose the app. The env is --env,
then .lsm.yaml 'env:', then config.yaml 'env:'. The repository is --repo OWNER/REPO,
else the 'origin' remote, which must be on github.com (git@github.com:O/R,
ssh://git@github.com/O/R, https://github.com/O/R). Needs the GitHub CLI, logged in.`;

export function registerGh(program: Command): void {
  const gh = program
    .command('gh')
    .description('push and inspect GitHub Actions secrets for the current project (needs the GitHub CLI)')
    .addHelpText('after', examples('$ lsm gh status', '$ lsm gh push', '$ lsm -e prod gh push --gh-env production --prune'));

  gh.command('push')
    .description("set the store's secrets as GitHub Actions secrets, in name order")
    .option('--repo <owner/repo>', "repository (default: from the 'origin' remote)")
    .option('--gh-env <name>', 'a GitHub deployment environment instead of the repository level')
    .option('--prune', 'also delete remote secrets that have no local key (asks again)')
    .option('-y, --force', 'do not ask for confirmation (required off a terminal)')
    .option('--with-canaries', 'push canary secrets too (left out by default; recorded as canary reads)')
    .option('--reason <text>', 'why the values go to GitHub (recorded; the egress policy may ask for it; also LSM_REASON)')
    .addHelpText('after', `${BINDING}

The values leave the machine, so the push is plaintext egress: config.yaml 'policy:'
decides as for get and dump (an agent pushing a prod* env needs --reason by default).
Canaries are left out unless --with-canaries (then each is recorded as read); a push
from another env than the marker's last one to the same target is warned about.

Each value goes to 'gh secret set NAME' on its stdin, never on a command line (an
empty value as an empty stdin). gh drops trailing line breaks from a value: lsm warns.
GitHub ignores case in secret names and reserves GITHUB_*: such keys are refused
before anything is sent. The push is not atomic; a failure stops it and says how many
secrets were set. --prune lists the remote secrets, shows those without a local key
and asks before deleting them; --force answers yes to both questions.

Audit: 'gh_push_intent' (names and count) is recorded before any value is sent, and
the push does not happen if it cannot be; 'gh_push' (names set, count, pruned names,
outcome ok or error) is recorded afterwards, partial failures included. Names only,
never values. After a full success config.yaml gets github.<app>: {repo, target, env,
last_pushed, last_count}, the marker 'lsm gh status' compares with GitHub.
${examples('$ lsm gh push', '$ lsm gh push --repo acme/widget -y', '$ lsm --env prod gh push --gh-env production --prune')}`)
    .action(action(() => import('../commands/gh-push.js')));

  gh.command('status')
    .description('compare local key names with the GitHub secrets (names only)')
    .option('--repo <owner/repo>', "repository (default: from the 'origin' remote)")
    .option('--gh-env <name>', 'a GitHub deployment environment instead of the repository level')
    .option('--format <fmt>', 'text (default) or json', 'text')
    .addHelpText('after', `${BINDING}

Prints the secrets in sync, local only (would be pushed) and remote only, then the
marker of the last 'lsm gh push' from config.yaml with any DRIFT: the marker names
another repo or target, or GitHub has none of the secrets it says were pushed.
${examples('$ lsm gh status', '$ lsm --env prod gh status --gh-env production')}`)
    .action(action(() => import('../commands/gh-status.js')));
}
