import type { Command } from 'commander';
import { action, examples } from './action.js';
import { auditCommand, auditSubcommand } from './audit.js';

const SUSPICIOUS_HELP = `
Detectors (a row can have several reasons):
  agent_plaintext           an agent or an unattended caller received plaintext (get, dump,
                            edit, unmasked exec); HIGH for prod* (and for a canary)
  outside_hours             outside --hours in local time (--utc for UTC); 22:00-06:00 wraps midnight
  burst                     more than --burst-threshold events of one actor, or of one agent
                            (by its marker), within --burst-window
  new_parent_comm           an actor not seen in the --lookback before the row; only judged
                            once the log holds a full lookback of history before it
  non_interactive_no_agent  no terminal and no agent marker: what is running this?
  canary                    a canary key was read
  approval_refused          an 'ask' approval was refused (wrong passphrase, cancel) or timed out; HIGH
The actor is the nearest process above lsm that is not a shell (the agent, not bash).
lsm's own audit.* events are not judged. Rows before --since still count as history for
burst and new_parent_comm. Defaults can be set in config.yaml:
  suspicious: {hours: "07:00-23:00", burst_threshold: 50, burst_window: 1m, lookback: 30d}
A run that flags anything records one local-only 'audit.suspicious.flagged' event.

Exit status: 0, or 3 with --fail-on-match when anything is flagged.`;

/** Attaches `audit suspicious` and `audit stats` to `lsm audit`. */
export function registerAuditSuspicious(program: Command): void {
  const audit = auditCommand(program);

  auditSubcommand(audit, 'suspicious', 'Flag odd accesses: off hours, bursts, new processes, unattended callers')
    .option('--since <time>', 'judge from this time (inclusive)')
    .option('--until <time>', 'judge up to this time (exclusive)')
    .option('--hours <HH:MM-HH:MM>', 'normal hours (default 07:00-23:00)')
    .option('--utc', 'judge hours in UTC instead of the local time zone')
    .option('--burst-threshold <n>', 'events of one actor that make a burst when exceeded (default 50)')
    .option('--burst-window <duration>', 'burst window (default 1m)')
    .option('--lookback <duration>', 'how long an actor stays known (default 30d)')
    .option('--fail-on-match', 'exit 3 when anything is flagged (cron, CI)')
    .option('-v, --verbose', 'list the flagged rows under each incident')
    .addHelpText('after', `${SUSPICIOUS_HELP}\n${examples(
      'lsm audit suspicious --since 1d',
      'lsm audit suspicious --hours 22:00-06:00 -v',
      'lsm audit suspicious --since 1d --fail-on-match --format json > flagged.jsonl',
    )}`)
    .action(action(() => import('../commands/audit-suspicious.js')));

  auditSubcommand(audit, 'report', 'What touched my secrets: per caller, what, how, when and the flags; then the log\'s integrity')
    .option('--since <time>', 'from this time (default: your last report on this home, else 24 hours ago)')
    .option('--until <time>', 'before this time (exclusive)')
    .option('--hours <HH:MM-HH:MM>', 'normal hours (default 07:00-23:00)')
    .option('--utc', 'times and hours in UTC instead of the local time zone')
    .option('--fail-on-match', 'exit 3 when anything is flagged (cron, CI)')
    .addHelpText('after', `
One block per caller: an agent by name and session, a process with no terminal and no
agent marker, or you at a terminal. "what" lists app/env, how the secrets were used
(plaintext: the values reached the caller; masked: they reached a command whose output
was masked; denied: refused by the policy; declined: you said no at the prompt;
changed; names: key names only) and the key names. "flags" are the detectors of
'lsm audit suspicious' (agent_plaintext: an agent or unattended caller got plaintext).
The last line is 'lsm audit verify' in one line.

Without --since the report starts where your last one ended: only a report you read on
a terminal, as yourself (not an agent), moves that mark. It is kept in
<lsm home>/report-state.json; the first report covers 24 hours.

Exit status: 0; 1 when the log fails verification; 3 with --fail-on-match when anything
is flagged.
${examples('lsm audit report', "lsm audit report --since yesterday", "lsm audit report --since '2026-12-02 22:00' --until 07:00", 'lsm audit report --since 1d --fail-on-match --format json > report.json')}`)
    .action(action(() => import('../commands/audit-report.js')));

  auditSubcommand(audit, 'stats', 'Per key and per actor counts, and a heat map of when secrets are read')
    .option('--since <time>', 'from this time (inclusive)')
    .option('--until <time>', 'before this time (exclusive)')
    .option('--utc', 'heat map in UTC instead of the local time zone')
    .addHelpText('after', `
Per key: events, last access and by whom (human at a terminal, agent:<name>, or
unattended). Per actor (the nearest non-shell process above lsm): events, distinct keys,
first and last seen. The heat map is hour of day by day of week; --format json gives
the numbers.
${examples('lsm audit stats --since 1w', 'lsm audit stats --format json | jq .keys')}`)
    .action(action(() => import('../commands/audit-stats.js')));
}
