// Issue 2: `lsm get` against bare `node -e 0`, both without NODE_EXTRA_CA_CERTS.
import { join } from 'node:path';
import { LSM, benchEnv, interleave, run, tempHome, fmt, ratio } from './lib.mjs';

export const title = 'Start-up: lsm get against bare node';

export async function bench({ rounds }) {
  const home = tempHome();
  try {
    const env = benchEnv({ LSM_DIR: join(home.dir, 'h') });
    run([process.execPath, LSM, 'init'], { env });
    run([process.execPath, LSM, 'set', 'app', 'dev', 'API_KEY', 'bench-value'], { env });
    const m = interleave([
      { name: 'node -e 0', argv: [process.execPath, '-e', '0'], env },
      { name: 'lsm get', argv: [process.execPath, LSM, 'get', 'app', 'dev', 'API_KEY'], env },
      { name: 'lsm --version', argv: [process.execPath, LSM, '--version'], env },
    ], rounds);
    const base = m['node -e 0'];
    return {
      rows: [
        ['node -e 0', fmt(base), '1.00x', 'the floor: Node itself'],
        ['lsm --version', fmt(m['lsm --version']), ratio(m['lsm --version'], base), 'bundle parse + commander'],
        ['lsm get app dev API_KEY', fmt(m['lsm get']), ratio(m['lsm get'], base), 'target <= 1.5x (issue 2)'],
      ],
      figures: { getRatio: m['lsm get'] / base },
    };
  } finally {
    home.cleanup();
  }
}
