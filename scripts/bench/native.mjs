// Issue 11: the native executable's `lsm get` against a native hello-world (the floor
// of any Bun executable) and against the Node bundle, all interleaved in one run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { COMPILE_FLAGS, findBun } from '../build-native.mjs';
import { LSM, ROOT, benchEnv, interleave, run, tempHome, fmt, ratio } from './lib.mjs';

export const title = 'Start-up: the native executable (Bun) against its floor and the Node bundle';

// What lsm get cannot do without, on Bun: node:fs, and node:crypto for X25519 (Bun
// has no chacha20-poly1305 there; the AEAD is @noble/ciphers). A row of its own shows
// how much of the gap to the floor is the runtime's modules rather than lsm's code.
const CRYPTO_PROBE = `
const fs = require('node:fs');
const c = require('node:crypto');
const k = c.generateKeyPairSync('x25519');
fs.fstatSync(1);
console.log(c.diffieHellman({ privateKey: k.privateKey, publicKey: k.publicKey }).length);
`;

function compile(bun, src, out) {
  const r = spawnSync(bun, ['build', src, ...COMPILE_FLAGS, '--outfile', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bun build ${src}: ${r.stderr}`);
}

export async function bench({ rounds }) {
  const home = tempHome('lsm-bench-native-');
  try {
    const bun = findBun();
    const hello = join(home.dir, 'hello');
    writeFileSync(`${hello}.ts`, "console.log('hello, world');\n");
    compile(bun, `${hello}.ts`, hello);
    const probe = join(home.dir, 'probe');
    writeFileSync(`${probe}.ts`, CRYPTO_PROBE);
    compile(bun, `${probe}.ts`, probe);
    // Built here, so that the figures are for the sources as they are, not a stale dist/lsm.
    const native = join(home.dir, 'lsm');
    run([process.execPath, join(ROOT, 'scripts', 'build-native.mjs'), `--outfile=${native}`], { cwd: ROOT });

    const env = benchEnv({ LSM_DIR: join(home.dir, 'h') });
    run([native, 'init'], { env });
    run([native, 'set', 'app', 'dev', 'API_KEY', 'bench-value'], { env });
    const get = ['get', 'app', 'dev', 'API_KEY'];
    const m = interleave([
      { name: 'hello', argv: [hello], env },
      { name: 'probe', argv: [probe], env },
      { name: 'native get', argv: [native, ...get], env },
      { name: 'native --version', argv: [native, '--version'], env },
      { name: 'node -e 0', argv: [process.execPath, '-e', '0'], env },
      { name: 'bundle get', argv: [process.execPath, LSM, ...get], env },
    ], rounds);
    const floor = m.hello;
    const vsBundle = m['native get'] / m['bundle get'];
    return {
      rows: [
        ['native hello-world (bun build --compile)', fmt(floor), '1.00x', 'the floor: Bun itself'],
        ['native: node:fs + node:crypto X25519 only', fmt(m.probe), ratio(m.probe, floor), 'the runtime modules lsm get needs, no lsm code'],
        ['native lsm get app dev API_KEY', fmt(m['native get']), ratio(m['native get'], floor), `target <= 2x the floor; ${vsBundle.toFixed(2)}x the bundle's (target <= 0.35x)`],
        ['native lsm --version', fmt(m['native --version']), ratio(m['native --version'], floor), 'commander and the command tree'],
        ['node -e 0', fmt(m['node -e 0']), ratio(m['node -e 0'], floor), 'the Node floor'],
        ['bundle lsm get app dev API_KEY (Node)', fmt(m['bundle get']), ratio(m['bundle get'], floor), 'dist/lsm.cjs with its code cache'],
      ],
      notes: 'Ratios are to the native hello-world, compiled with the same flags as lsm (scripts/build-native.mjs: bytecode, minified, no .env or bunfig autoload). `lsm get` also appends and fsyncs one audit event, which no floor does.',
      figures: { floorRatio: m['native get'] / floor, bundleRatio: vsBundle },
    };
  } finally {
    home.cleanup();
  }
}
