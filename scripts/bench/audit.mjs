// Issue 4: the audit log at 1,000,000 rows. (1) An append costs the same at a million
// rows as at none: `lsm get` in a home whose log has 1,000,000 rows against one whose
// log is empty, interleaved; target <= 1.05x. (2) `lsm audit verify` streams: against
// `sha256sum` of the same file (the floor of reading and hashing every byte); target
// <= 6x, peak RSS <= 128 MiB. The readers of docs/audit.md's table come along.
import { copyFileSync, openSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LSM, benchEnv, interleave, measure, median, run, sharedAuditLog, tempHome, fmt, ratio } from './lib.mjs';

export const title = 'Audit log: lsm get at 1,000,000 rows against an empty log; verify against sha256sum';

const ROWS = 1_000_000;

function home(dir, name) {
  const env = benchEnv({ LSM_DIR: join(dir, name) });
  run([process.execPath, LSM, 'init'], { env });
  run([process.execPath, LSM, 'set', 'app', 'dev', 'API_KEY', 'bench-value'], { env });
  return env;
}

export async function bench({ rounds, quick }) {
  const tmp = tempHome();
  const devnull = openSync('/dev/null', 'w');
  try {
    const log = await sharedAuditLog(ROWS, 5);
    const mib = statSync(log).size / 2 ** 20;

    // (1) The same home twice; one log replaced by a copy of the big one, which lsm then
    // continues (its chain is valid, so lsm chains onto its last row).
    const empty = home(tmp.dir, 'empty');
    const big = home(tmp.dir, 'big');
    copyFileSync(log, join(big.LSM_DIR, 'audit.jsonl'));
    const get = [process.execPath, LSM, 'get', 'app', 'dev', 'API_KEY'];
    const m = interleave([
      { name: 'empty', argv: get, env: empty },
      { name: 'big', argv: get, env: big },
    ], rounds);

    // (2) Verify and the readers against sha256sum, interleaved, each run on the same bytes.
    const nowhere = benchEnv({ LSM_DIR: join(tmp.dir, 'no-home') });
    const candidates = [
      ['sha256sum', ['sha256sum', log]],
      ['lsm audit verify', [process.execPath, LSM, 'audit', 'verify', '--format', 'json', '--file', log]],
      ['lsm audit query --key API_KEY', [process.execPath, LSM, 'audit', 'query', '--key', 'API_KEY', '--format', 'json', '--file', log]],
      ['lsm audit show 999999', [process.execPath, LSM, 'audit', 'show', '999999', '--format', 'json', '--file', log]],
      ['lsm audit tail -n 1000', [process.execPath, LSM, 'audit', 'tail', '-n', '1000', '--format', 'json', '--file', log]],
    ];
    const n = quick ? 1 : Math.max(3, Math.min(5, Math.round(rounds / 10)));
    const runs = Object.fromEntries(candidates.map(([name]) => [name, { ms: [], rss: [] }]));
    for (let i = 0; i < n; i++) {
      for (const [name, argv] of candidates) {
        const r = measure(argv, { env: nowhere, stdio: ['ignore', devnull, 'pipe'] });
        if (r.status !== 0) throw new Error(`${name}: exit ${r.status}`);
        runs[name].ms.push(r.ms);
        if (r.rssKiB !== undefined) runs[name].rss.push(r.rssKiB);
      }
    }
    const t = (name) => median(runs[name].ms);
    const rss = (name) => (runs[name].rss.length ? Math.max(...runs[name].rss) / 1024 : undefined);
    const rssNote = (name) => (rss(name) === undefined ? 'RSS not measured (no /usr/bin/time)' : `${rss(name).toFixed(0)} MiB peak RSS`);
    const sha = t('sha256sum');
    const verifyRatio = t('lsm audit verify') / sha;
    return {
      rows: [
        ['lsm get, empty log', fmt(m.empty), '1.00x', ''],
        [`lsm get, ${ROWS.toLocaleString('en')}-row log (${mib.toFixed(0)} MiB)`, fmt(m.big), ratio(m.big, m.empty), 'target <= 1.05x: an append reads only the end of the log'],
        [`sha256sum, ${ROWS.toLocaleString('en')} rows`, fmt(sha), '1.00x', 'the floor: read and hash every byte'],
        ['lsm audit verify', fmt(t('lsm audit verify')), ratio(t('lsm audit verify'), sha), `${rssNote('lsm audit verify')}; target <= 6x, <= 128 MiB`],
        ...candidates.slice(2).map(([name]) => [name, fmt(t(name)), ratio(t(name), sha), rssNote(name)]),
      ],
      notes: `The log is scripts/gen-audit-log.mjs (seed 5, ${mib.toFixed(0)} MiB), shared with the analysis suite. ` +
        `lsm get: median of ${rounds} interleaved runs; each appends and fsyncs one row (so the big log grows by ${rounds + 3} rows). ` +
        `The readers: median of ${n} interleaved runs with output to /dev/null, run without an lsm home so that they record nothing; ` +
        'peak RSS is the largest of the runs (GNU time %M). The ratios of the readers are to sha256sum.',
      figures: { getRatio: m.big / m.empty, verifyRatio, verifyRssMiB: rss('lsm audit verify') },
    };
  } finally {
    closeSync(devnull);
    tmp.cleanup();
  }
}
