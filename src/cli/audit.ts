import type { Command } from 'commander';
import { action, examples } from './action.js';

const AUDIT_HELP = `
Every lsm command appends one event to <lsm home>/audit.jsonl (mode 0600): what was
done, to which app/env and key names (never values), the outcome, and who asked (parent
processes, TTY, agent markers). Rows are hash-chained; 'lsm audit verify' checks the chain.

When the event cannot be written (disk full, read-only, permissions), a command that
reveals or changes secrets fails closed: it stops and changes or reveals nothing. Set
'audit: {on_failure: open}' in config.yaml to turn that into a warning.

Times (--since, --until): a duration ago (90m, 36h, 2d, 1w), a time of day (22:00: the
last time it was 22:00), today, yesterday, a local date or date and time as lsm prints
them (2026-12-02, 2026-12-02 22:00[:05]), now, or RFC 3339.
--format auto prints aligned columns on a terminal and JSON lines when piped.
`;

/**
 * Adds a subcommand of `lsm audit` with the options every one of them shares
 * (`--file`, and `--format` unless told otherwise). Later audit features attach
 * themselves with it from their own src/cli/ module, e.g.
 * `auditSubcommand(audit, 'stats', 'Counts per event').action(action(() => import(...)))`.
 */
export function auditSubcommand(audit: Command, nameAndArgs: string, description: string, opts: { format?: boolean } = {}): Command {
  const sub = audit
    .command(nameAndArgs)
    .description(description)
    .option('--file <path>', 'audit log to read (default: <lsm home>/audit.jsonl)');
  if (opts.format !== false) sub.option('--format <format>', 'auto (text on a terminal, JSON lines when piped), json or text');
  return sub;
}

/** The `audit` command of a program built by buildProgram(), for modules that extend it. */
export function auditCommand(program: Command): Command {
  const audit = program.commands.find((c) => c.name() === 'audit');
  if (!audit) throw new Error('registerAudit() must run before the audit extensions are registered');
  return audit;
}

/** Registers `lsm audit` and its reading subcommands; returns it so others can attach theirs. */
export function registerAudit(program: Command): Command {
  const audit = program
    .command('audit')
    .description('Read and verify the audit log of every access')
    // Also accepted before the subcommand, as the original's persistent flag was.
    .option('--format <format>', 'auto, json or text, for every subcommand')
    .addHelpText('after', `${AUDIT_HELP}${examples('$ lsm audit tail -n 20', '$ lsm audit query --since 12h --agent any', '$ lsm audit suspicious --since 1d', '$ lsm audit verify')}`);

  auditSubcommand(audit, 'tail', 'Print the latest events; -f keeps printing new ones')
    .option('-n, --num <n>', 'how many events', '20')
    .option('-f, --follow', 'keep printing events as they are appended (Ctrl-C stops)')
    .option('--all', "include lsm's own audit.* events (hidden unless --all or --event 'audit.*')")
    .option('--event <name>', "only this event; a trailing * matches a prefix ('audit.*')")
    .option('--exclude-event <name>', 'leave out this event (a trailing * matches a prefix); repeatable', (v: string, acc: string[] = []) => [...acc, v])
    .addHelpText('after', examples('lsm audit tail', 'lsm audit tail -n 100 --format json | jq .event', 'lsm audit tail -f'))
    .action(action(() => import('../commands/audit-tail.js')));

  auditSubcommand(audit, 'show <seq>', 'Print one event in full')
    .addHelpText('after', examples('lsm audit show 42', 'lsm audit show 42 --format json'))
    .action(action(() => import('../commands/audit-show.js')));

  auditSubcommand(audit, 'query', 'Print the events that match every filter given')
    .option('--app <name>', 'app name')
    .option('--env <name>', 'environment')
    .option('--event <name>', "event name; a trailing * matches a prefix ('audit.*')")
    .option('--key <name>', 'events that name this key')
    .option('--outcome <outcome>', 'ok, denied or error')
    .option('--agent <name>', "'any' (some agent), 'none', or an agent's name")
    .option('--agent-marker <name>', 'exact agent_marker')
    .option('--parent-comm <name>', 'exact name of the parent process')
    .option('--ancestor <name>', 'a process of that name among the recorded ancestors')
    .option('--tty <state>', "'present' or 'absent'")
    .option('--since <time>', 'from this time (inclusive)')
    .option('--until <time>', 'before this time (exclusive)')
    .option('--seq-from <n>', 'from this seq (inclusive)')
    .option('--seq-to <n>', 'up to this seq (inclusive)')
    .option('--limit <n>', 'stop after this many matches (the first in file order)')
    .option('--all', "include lsm's own audit.* events (hidden unless --all or --event 'audit.*')")
    .option('--exclude-event <name>', "leave out this event (a trailing * matches a prefix); repeatable", (v: string, acc: string[] = []) => [...acc, v])
    .addHelpText(
      'after',
      examples(
        'lsm audit query --since 12h --agent any',
        'lsm audit query --key DATABASE_URL --env prod --since 2026-05-14',
        'lsm audit query --tty absent --agent none --outcome denied',
        "lsm audit query --event 'audit.*' --format json",
      ),
    )
    .action(action(() => import('../commands/audit-query.js')));

  auditSubcommand(audit, 'verify', 'Check the hash chain from the first event to the last')
    .option('--all', 'go on after the first problem and list every one')
    .addHelpText(
      'after',
      `\nExit status: 0 when the chain is valid, 1 when it shows tampering. A torn last line
left by a killed process, and its audit.repair event, are reported but are not tampering.
${examples('lsm audit verify', 'lsm audit verify --all --format json', 'lsm audit verify --file backup/audit.jsonl')}`,
    )
    .action(action(() => import('../commands/audit-verify.js')));

  return audit;
}
