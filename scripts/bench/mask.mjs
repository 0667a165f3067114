// Issue 8: what masking costs `lsm exec`. A child prints 100 MB of log lines (a secret
// every ~1 MB) into a pipe; the same run without lsm, through `lsm exec --no-mask`
// (the child writes to the pipe itself), and through `lsm exec --mask` (lsm reads the
// child's pipe, masks, writes), interleaved. The reader is `cat > /dev/null`.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LSM, benchEnv, interleave, run, tempHome, fmt, ratio } from './lib.mjs';

export const title = 'Masked exec: 100 MB of child output through lsm exec --mask, against --no-mask and no lsm';

const MB = 100;
const SECRETS = {
  DATABASE_URL: 'postgres://app:Xk3v9QmZp2Lw@db.internal:5432/app',
  STRIPE_SECRET_KEY: 'sk_live_51HbQz2eZvKYlo2C8nJ3kTq9w',
  GITHUB_TOKEN: 'ghp_R2d4Xk9vQmZp2Lw7Tn3sJ8yB6cH1fG0aE5uI',
  AWS_ACCESS_KEY_ID: 'AKIAQ7N3XK2LW5ZP9RTB',
  AWS_SECRET_ACCESS_KEY: 'w9Zp2Lw7Tn3sJ8yB6cH1fG0aE5uIXk9vQmR2d4Xk',
  SESSION_SECRET: 'b3f1c9e7a2d84f60b5c7e9a1d3f5b7c9',
  SENTRY_DSN: 'https://4f1c9e7a2d84f60b@o123.ingest.sentry.io/456',
  REDIS_URL: 'redis://:p4ssw0rd-redis@cache.internal:6379/0',
  JWT_SIGNING_KEY: 'kq9Zp2Lw7Tn3sJ8yB6cH1fG0aE5uIXk9vQmR2d4Xk=',
  PORT: '8080',
};

const CHILD = `
const fs = require('fs');
const line = '2026-05-14T12:00:00.000Z INFO request handled method=GET path=/api/v1/items status=200 duration_ms=12 user=4711\\n';
const secret = 'connecting to ' + process.env.DATABASE_URL + '\\n';
let chunk = '';
while (chunk.length < 64 * 1024) chunk += line;
const buf = Buffer.from(chunk);
const total = ${MB} * 1024 * 1024;
let sent = 0;
let n = 0;
while (sent < total) {
  const b = ++n % 16 === 0 ? Buffer.concat([buf, Buffer.from(secret)]) : buf;
  let off = 0;
  while (off < b.length) {
    try { off += fs.writeSync(1, b, off, b.length - off); }
    catch (e) { if (e.code !== 'EAGAIN') throw e; }
  }
  sent += b.length;
}
`;

export async function bench({ rounds }) {
  const tmp = tempHome();
  try {
    const env = benchEnv({ LSM_DIR: join(tmp.dir, 'home') });
    run([process.execPath, LSM, 'init'], { env });
    for (const [k, v] of Object.entries(SECRETS)) run([process.execPath, LSM, 'set', 'app', 'dev', k, v], { env });
    const child = join(tmp.dir, 'child.cjs');
    writeFileSync(child, CHILD);
    const q = (a) => `'${a}'`;
    const sh = (cmd) => ['sh', '-c', `${cmd} | cat > /dev/null`];
    const lsm = (flag) => [process.execPath, LSM, 'exec', 'app', 'dev', flag, '--', process.execPath, child].map(q).join(' ');
    const n = Math.min(rounds, 7);
    const m = interleave([
      { name: 'direct', argv: sh(`DATABASE_URL=${q(SECRETS.DATABASE_URL)} ${q(process.execPath)} ${q(child)}`), env },
      { name: 'nomask', argv: sh(lsm('--no-mask')), env },
      { name: 'mask', argv: sh(lsm('--mask')), env },
    ], n, 1);
    // Start-up: what masking costs before the child runs, with a store of 40 values of
    // 50 characters (the automaton is built per exec), the child /bin/true.
    const big = join(tmp.dir, 'big.env');
    writeFileSync(big, Array.from({ length: 40 }, (_, i) => `KEY_${i}=${createHash('sha256').update(String(i)).digest('base64').slice(0, 50)}\n`).join(''));
    run([process.execPath, LSM, 'import', 'app', 'big', big], { env });
    const s = interleave([
      { name: 'nomask', argv: [process.execPath, LSM, 'exec', 'app', 'big', '--no-mask', '--', 'true'], env },
      { name: 'mask', argv: [process.execPath, LSM, 'exec', 'app', 'big', '--mask', '--', 'true'], env },
    ], rounds);
    const mbps = (ms) => `${((MB / ms) * 1000).toFixed(0)} MB/s`;
    return {
      rows: [
        [`child writes ${MB} MB, no lsm`, fmt(m.direct), '1.00x', mbps(m.direct)],
        [`lsm exec --no-mask`, fmt(m.nomask), ratio(m.nomask, m.direct), 'the child writes to the pipe itself'],
        [`lsm exec --mask (9 values masked, ~14 forms each)`, fmt(m.mask), ratio(m.mask, m.direct), `${mbps(m.mask)}; masking adds ${fmt(m.mask - m.nomask)}`],
        ['start-up: lsm exec --no-mask -- true, 40-value store', fmt(s.nomask), '', `median of ${rounds}`],
        ['start-up: lsm exec --mask -- true, 40-value store', fmt(s.mask), ratio(s.mask, s.nomask), `to --no-mask: masking adds ${fmt(s.mask - s.nomask)} before the child starts`],
      ],
      notes: `Median of ${n} runs each. With --mask the child's stdout and stderr are pipes that lsm reads, scans with one Aho-Corasick automaton (one table load per byte) and writes on; values shorter than 6 bytes (PORT here) are not masked. On a terminal the child runs in a pseudo-terminal instead, whose throughput is bounded by the terminal.`,
      figures: { maskMs: m.mask, noMaskMs: m.nomask, directMs: m.direct, maskStartMs: s.mask, noMaskStartMs: s.nomask },
    };
  } finally {
    tmp.cleanup();
  }
}
