// Issue 6: what shipping costs a command. `lsm get` with shipping off against
// `lsm get` with shipping on and the collector black-holed (a TCP port on 127.0.0.1
// that accepts and never answers), interleaved. Target: <= 10 ms median overhead.
import { createServer } from 'node:net';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { LSM, benchEnv, interleave, run, tempHome, fmt, ratio } from './lib.mjs';

export const title = 'Audit shipping: lsm get with OTLP on (collector black-holed) against off';

function home(dir, name) {
  const env = benchEnv({ LSM_DIR: join(dir, name) });
  run([process.execPath, LSM, 'init'], { env });
  run([process.execPath, LSM, 'set', 'app', 'dev', 'API_KEY', 'bench-value'], { env });
  return env;
}

async function sleep(ms) {
  await new Promise((r) => setTimeout(r, ms));
}

export async function bench({ rounds }) {
  const tmp = tempHome();
  // The kernel completes connections into the backlog even while this process is busy
  // in spawnSync: the shipper connects, sends, and waits for an answer that never comes.
  const sockets = new Set();
  const hole = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise((r) => hole.listen(0, '127.0.0.1', r));
  const port = hole.address().port;
  try {
    const off = home(tmp.dir, 'off');
    const on = home(tmp.dir, 'on');
    appendFileSync(join(on.LSM_DIR, 'config.yaml'), `\notlp:\n  enabled: true\n  endpoint: http://127.0.0.1:${port}/v1/logs\n  timeout: 2s\n  max_retries: 0\n`);
    const m = interleave([
      { name: 'off', argv: [process.execPath, LSM, 'get', 'app', 'dev', 'API_KEY'], env: off },
      { name: 'on', argv: [process.execPath, LSM, 'get', 'app', 'dev', 'API_KEY'], env: on },
    ], rounds);
    // Let the last background shipper give up before its home is removed.
    for (let i = 0; i < 50 && existsSync(join(on.LSM_DIR, 'ship.lock')); i++) await sleep(100);
    const overhead = m.on - m.off;
    return {
      rows: [
        ['lsm get, shipping off', fmt(m.off), '1.00x', 'the config.yaml of lsm init (otlp commented out)'],
        ['lsm get, shipping on, collector black-holed', fmt(m.on), ratio(m.on, m.off), `overhead ${fmt(overhead)} (target <= 10 ms)`],
      ],
      notes: 'With shipping on, a command starts a detached `lsm audit ship` only when none is running or starting (and not for 30 s after a failed delivery); otherwise it checks the shipper lock and returns. The shipper waits on the black hole in the background (timeout 2 s here), so the figure is what the command itself pays. The `on` config.yaml has `timeout: 2s`, outside the fast YAML subset: its answer comes from `ship.cache`.',
      figures: { overheadMs: overhead },
    };
  } finally {
    for (const s of sockets) s.destroy();
    hole.close();
    tmp.cleanup();
  }
}
