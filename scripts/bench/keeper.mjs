// Issue 16: `lsm get` through the keeper of a protected home, against bare `node -e 0` and
// an unprotected get; the native client against a native hello-world. All interleaved.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { COMPILE_FLAGS, findBun } from '../build-native.mjs';
import { LSM, ROOT, benchEnv, interleave, run, tempHome, fmt, ratio } from './lib.mjs';

export const title = 'Start-up: lsm get through the keeper (protected home)';

const PASS = 'bench passphrase';

function home(dir, name, bin, protect) {
  const env = benchEnv({ LSM_DIR: join(dir, name) });
  run([...bin, 'init'], { env });
  run([...bin, 'set', 'app', 'dev', 'API_KEY', 'bench-value'], { env });
  if (protect) {
    run([...bin, 'key', 'protect'], { env, input: `${PASS}\n${PASS}\n` });
    run([...bin, 'unlock'], { env, input: `${PASS}\n` });
  }
  return env;
}

export async function bench({ rounds }) {
  const h = tempHome('lsm-bench-keeper-');
  const stops = [];
  try {
    const node = [process.execPath, LSM];
    const plain = home(h.dir, 'plain', node, false);
    const locked = home(h.dir, 'protected', node, true);
    stops.push(() => run([...node, 'keeper', 'stop'], { env: locked, allowFail: true }));
    const get = ['get', 'app', 'dev', 'API_KEY'];
    const candidates = [
      { name: 'node -e 0', argv: [process.execPath, '-e', '0'], env: plain },
      { name: 'unprotected get', argv: [...node, ...get], env: plain },
      { name: 'keeper get', argv: [...node, ...get], env: locked },
    ];
    // The native client: built here, as the native suite does, so the figure is for these sources.
    let native;
    try {
      const bun = findBun();
      const hello = join(h.dir, 'hello');
      writeFileSync(`${hello}.ts`, "console.log('hello, world');\n");
      const r = spawnSync(bun, ['build', `${hello}.ts`, ...COMPILE_FLAGS, '--outfile', hello], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
      native = join(h.dir, 'lsm');
      run([process.execPath, join(ROOT, 'scripts', 'build-native.mjs'), `--outfile=${native}`], { cwd: ROOT });
      const nlocked = home(h.dir, 'native', [native], true);
      stops.push(() => run([native, 'keeper', 'stop'], { env: nlocked, allowFail: true }));
      candidates.push({ name: 'native hello', argv: [hello], env: plain }, { name: 'native keeper get', argv: [native, ...get], env: nlocked });
    } catch (err) {
      native = undefined;
      process.stderr.write(`bench keeper: no native rows (${err instanceof Error ? err.message.split('\n')[0] : err})\n`);
    }
    const n = rounds * 2;
    const m = interleave(candidates, n);
    const base = m['node -e 0'];
    const rows = [
      ['node -e 0', fmt(base), '1.00x', 'the floor: Node itself'],
      ['lsm get, unprotected home', fmt(m['unprotected get']), ratio(m['unprotected get'], base), 'target <= 1.5x (issue 2)'],
      ['lsm get through the keeper', fmt(m['keeper get']), ratio(m['keeper get'], base), 'target <= 1.2x (issue 16)'],
    ];
    const figures = { keeperRatio: m['keeper get'] / base, plainRatio: m['unprotected get'] / base };
    if (native && m['native hello']) {
      rows.push(['native hello-world', fmt(m['native hello']), '1.00x', 'the floor: Bun itself'],
        ['native lsm get through the keeper', fmt(m['native keeper get']), ratio(m['native keeper get'], m['native hello']), 'target <= 2x the native floor (issue 16)']);
      figures.nativeKeeperRatio = m['native keeper get'] / m['native hello'];
    }
    return {
      rows,
      notes: `Median of ${n} interleaved runs each. Through the keeper the client resolves the store, connects to the keeper's socket and prints the answer: it loads no crypto, reads no key and takes no lock; the keeper reads the caller from /proc, decides, decrypts and appends the event (with its fsync) before it answers, so that work is in the figure too.`,
      figures,
    };
  } finally {
    for (const s of stops) s();
    h.cleanup();
  }
}
