// Issue 5: `audit suspicious` and `audit stats` stream a 1,000,000-row log within 1.5x of
// `audit verify`'s time and within 128 MB of peak RSS (GNU time's %M).
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { LSM, benchEnv, measure, median, sharedAuditLog, tempHome, fmt, ratio } from './lib.mjs';

export const title = 'Audit analysis: suspicious and stats over 1,000,000 rows, against verify';

const ROWS = 1_000_000;

export async function bench({ rounds, quick }) {
  const home = tempHome();
  const devnull = openSync('/dev/null', 'w');
  try {
    // Shared with the audit suite: generated once per bench run.
    const log = await sharedAuditLog(ROWS, 5);
    // A home that does not exist: nothing is recorded into it, so every run reads the same log.
    const env = benchEnv({ LSM_DIR: join(home.dir, 'no-home'), TZ: 'America/New_York' });
    const candidates = [
      ['verify', ['audit', 'verify']],
      ['suspicious json', ['audit', 'suspicious', '--format', 'json']],
      ['suspicious text', ['audit', 'suspicious', '--format', 'text']],
      ['stats json', ['audit', 'stats', '--format', 'json']],
    ];
    const n = quick ? 1 : Math.max(3, Math.min(5, Math.round(rounds / 10)));
    const runs = Object.fromEntries(candidates.map(([name]) => [name, { ms: [], rss: [] }]));
    for (let i = 0; i < n; i++) {
      for (const [name, args] of candidates) {
        // Output goes to /dev/null: the figure is lsm's own cost, not a reader's.
        const m = measure([process.execPath, LSM, ...args, '--file', log], { env, stdio: ['ignore', devnull, 'pipe'] });
        if (m.status !== 0) throw new Error(`${name}: exit ${m.status}`);
        runs[name].ms.push(m.ms);
        if (m.rssKiB !== undefined) runs[name].rss.push(m.rssKiB);
      }
    }
    const base = median(runs.verify.ms);
    const mib = (name) => (runs[name].rss.length ? `${(Math.max(...runs[name].rss) / 1024).toFixed(0)} MiB peak RSS` : 'RSS not measured (no /usr/bin/time)');
    const rows = candidates.map(([name]) => {
      const ms = median(runs[name].ms);
      const target = name === 'verify' ? 'the yardstick' : 'target <= 1.50x, <= 128 MiB';
      return [`lsm audit ${name}`, fmt(ms), ratio(ms, base), `${mib(name)}; ${target}`];
    });
    return {
      rows,
      notes: `${ROWS.toLocaleString('en')} rows from scripts/gen-audit-log.mjs (seed 5), median of ${n} interleaved runs each; ` +
        'peak RSS is the largest of the runs. The generator interleaves five actors at random, so the cron ' +
        'rows (no TTY, no marker) and every night-time row are flagged, nearly half the log: the json run ' +
        'writes about 290 MB and the text run some 270,000 short incidents. A real log flags far less.',
      figures: Object.fromEntries(candidates.map(([name]) => [name, { ratio: median(runs[name].ms) / base, rssKiB: Math.max(0, ...runs[name].rss) }])),
    };
  } finally {
    closeSync(devnull);
    home.cleanup();
  }
}
