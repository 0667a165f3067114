// The nearest Node peer: `dotenvx get` (npm @dotenvx/dotenvx), which reads one secret of
// an encrypted .env, beside `lsm get` and the floor `node -e 0`, interleaved. Both tools
// decrypt with public-key cryptography (dotenvx: secp256k1 ECIES per value, key in
// .env.keys beside the file; lsm: age X25519 + ChaCha20-Poly1305, key in the lsm home),
// and lsm also appends and fsyncs one audit event, which dotenvx has no equivalent of.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { LSM, ROOT, benchEnv, interleave, run, tempHome, fmt, ratio } from './lib.mjs';

export const title = 'Peers: lsm get against dotenvx get (encrypted .env) and bare node';

const require = createRequire(join(ROOT, 'package.json'));

function dotenvxBin() {
  const pkg = require.resolve('@dotenvx/dotenvx/package.json');
  return { bin: join(pkg, '..', require(pkg).bin.dotenvx), version: require(pkg).version };
}

export async function bench({ rounds }) {
  const tmp = tempHome();
  try {
    const { bin, version } = dotenvxBin();
    const env = benchEnv({ LSM_DIR: join(tmp.dir, 'home') });
    delete env.DOTENV_KEY; // would send dotenvx to a .env.vault
    run([process.execPath, LSM, 'init'], { env });
    run([process.execPath, LSM, 'set', 'app', 'dev', 'API_KEY', 'bench-value'], { env });

    // The same secret in a dotenvx project: a .env encrypted in place, its key in .env.keys.
    const project = join(tmp.dir, 'project');
    const plain = join(tmp.dir, 'plain');
    for (const dir of [project, plain]) {
      mkdirSync(dir);
      writeFileSync(join(dir, '.env'), 'API_KEY=bench-value\n');
    }
    run([process.execPath, bin, 'encrypt'], { env, cwd: project });
    const check = run([process.execPath, bin, 'get', 'API_KEY'], { env, cwd: project });
    if (check.stdout.trim() !== 'bench-value') throw new Error(`dotenvx get printed ${JSON.stringify(check.stdout)}`);

    const m = interleave([
      { name: 'node', argv: [process.execPath, '-e', '0'], env },
      { name: 'lsm', argv: [process.execPath, LSM, 'get', 'app', 'dev', 'API_KEY'], env },
      { name: 'dotenvx', argv: [process.execPath, bin, 'get', 'API_KEY'], env, cwd: project },
      { name: 'dotenvx plain', argv: [process.execPath, bin, 'get', 'API_KEY'], env, cwd: plain },
    ], rounds);
    return {
      rows: [
        ['node -e 0', fmt(m.node), '1.00x', 'the floor'],
        ['lsm get app dev API_KEY', fmt(m.lsm), ratio(m.lsm, m.node), `${ratio(m.lsm, m.dotenvx)} of dotenvx get; decrypts, records and fsyncs one audit event`],
        [`dotenvx get API_KEY (encrypted .env, dotenvx ${version})`, fmt(m.dotenvx), ratio(m.dotenvx, m.node), 'decrypts; records nothing'],
        ['dotenvx get API_KEY (plaintext .env)', fmt(m['dotenvx plain']), ratio(m['dotenvx plain'], m.node), 'no decryption: the cost of its start-up alone'],
      ],
      notes: `Median of ${rounds} interleaved runs each; every candidate runs under the same \`node\` (${process.version}), ` +
        "dotenvx through its own CLI entry (`src/cli/dotenvx.js`, as `npx dotenvx` would run it without npx's own start-up). " +
        'dotenvx reads .env and .env.keys from its cwd; lsm reads its home. Neither touches the network.',
      figures: { lsmMs: m.lsm, dotenvxMs: m.dotenvx, vsDotenvx: m.lsm / m.dotenvx },
    };
  } finally {
    tmp.cleanup();
  }
}
