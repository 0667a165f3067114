import { Option, type Command } from 'commander';
import { action, examples } from './action.js';
import { auditCommand } from './audit.js';

const SHIP_HELP = `
Sends the audit events recorded since the last run, redacted, to an OpenTelemetry
collector over OTLP/HTTP (config.yaml 'otlp:'; see docs/observability.md). The local log
stays authoritative: commands never wait for this; they start it in the background.
Key names, values, paths and the terminal never leave the machine; app and env names
leave only as salted hashes. 'audit.*' and local-only events are never sent.

Exit status: 0 when everything pending was delivered (or another shipper is running),
1 when some events are still pending (the reason is in --status).
`;

/** Attaches `lsm audit ship` to the audit command (after registerAudit). */
export function registerAuditShip(program: Command): void {
  auditCommand(program)
    .command('ship')
    .description('Send pending audit events, redacted, to an OpenTelemetry collector (OTLP)')
    .option('--follow', 'keep running and send events as they are recorded (for a user service)')
    .option('--heartbeat', 'send a checkpoint even when nothing is pending (for a timer), so silence is visible')
    .option('--status', 'show what is pending, where it goes, and why the last run failed')
    .option('--format <format>', 'with --status: auto (text on a terminal, JSON when piped), json or text')
    .addOption(new Option('--background', 'started by a command: no output').hideHelp())
    .addHelpText(
      'after',
      `${SHIP_HELP}${examples('lsm audit ship', 'lsm audit ship --status', 'lsm audit ship --follow', 'lsm audit ship --heartbeat   # from an hourly timer')}`,
    )
    .action(action(() => import('../commands/audit-ship.js')));
}
