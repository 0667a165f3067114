// Bundles the CLI into CommonJS files (.cjs starts faster than .mjs): lsm-core.cjs holds
// every command, lsm-get.cjs only what a plain `lsm get` of a protected home runs (a request
// to the keeper), lsm-local.cjs what a plain get of an unprotected home runs (it decrypts),
// so that the hot paths read and deserialize a fraction of the code. Modules reached only through dynamic import() are
// wrapped lazily by esbuild, so a command pays only for what it runs.
import { build } from 'esbuild';
import { readFileSync, chmodSync, copyFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let commit = '';
try {
  const { execFileSync } = await import('node:child_process');
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch { /* not a git checkout */ }

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Minified: V8 then reads, hashes and keeps half the source. A get allocates just under
  // the young generation's first 1 MiB and so finishes without a scavenge (0.6-1 ms);
  // the unminified source pushed it over.
  minify: true,
  legalComments: 'none',
  // Each bundle is written as the function Node's CJS loader would wrap it in, so the
  // launcher compiles the file's text as it is read, without building a second copy.
  banner: { js: '(function (exports, require, module, __filename, __dirname) {' },
  footer: { js: '})' },
  // What went into each bundle (dist/inputs.json): minified code keeps no module names.
  metafile: true,
  define: {
    LSM_VERSION: JSON.stringify(pkg.version),
    LSM_COMMIT: JSON.stringify(commit),
    LSM_BUILT: JSON.stringify(new Date().toISOString()),
  },
  // yaml is large and only needed off the fast path (config edits, unusual YAML): it is
  // required from node_modules when first used instead of being parsed at every start.
  // @noble/ciphers is the AEAD only where node:crypto lacks ChaCha20-Poly1305 (Bun's
  // build bundles it): on Node it is never loaded, so it stays in node_modules.
  // koffi (the keeper's FFI, src/platform.ts) loads a prebuilt binary for the platform
  // from its own package at run time, so it is required from node_modules, never bundled;
  // bun:ffi is the native executable's FFI and only exists there.
  external: ['yaml', '@noble/ciphers', '@noble/ciphers/*', 'koffi', 'bun:ffi'],
  // The launcher runs the bundles through vm.Script, which has no import(): turn it into require().
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
};
const bundles = { 'lsm-core': 'src/bin.ts', 'lsm-get': 'src/bin-get.ts', 'lsm-local': 'src/bin-local-get.ts', 'lsm-shield': 'src/bin-shield.ts' };
const built = await Promise.all(Object.entries(bundles).map(([name, entry]) => build({ ...common, entryPoints: [entry], outfile: `dist/${name}.cjs` })));
const inputs = Object.fromEntries(Object.keys(bundles).map((name, i) => [name, Object.keys(built[i].metafile.inputs).sort()]));
writeFileSync('dist/inputs.json', `${JSON.stringify(inputs, null, 2)}\n`);
copyFileSync('scripts/launcher.cjs', 'dist/lsm.cjs');
chmodSync('dist/lsm.cjs', 0o755);

// The code caches: a representative run of each bundle in a throwaway home, so that each
// cache holds what its path runs. Without them lsm still works, only slower to start.
for (const b of Object.keys(bundles)) {
  try { unlinkSync(`dist/${b}.cache`); } catch { /* first build */ }
}
const home = mkdtempSync(join(tmpdir(), 'lsm-cache-'));
try {
  const env = { ...process.env, LSM_DIR: join(home, 'h') };
  const lsm = (...args) => spawnSync(process.execPath, ['dist/lsm.cjs', ...args], { env, stdio: 'ignore' });
  lsm('init');
  // Long enough to be masked, so that exec's cache holds the masking path an agent's exec runs.
  lsm('set', 'app', 'dev', 'KEY', 'a-value-long-enough-to-mask');
  const cache = (bundle, ...args) => {
    const own = args[0] === '--fake-keeper' ? { ...env, LSM_DIR: join(home, 'protected') } : env;
    const r = spawnSync(process.execPath, ['scripts/code-cache.cjs', 'dist/lsm.cjs', bundle, ...args], { env: own, stdio: 'ignore' });
    if (r.status !== 0) console.warn(`build: no code cache for ${bundle} (the representative run failed)`);
  };
  cache('lsm-get', '--fake-keeper', 'get', 'app', 'dev', 'KEY');
  cache('lsm-local', 'get', 'app', 'dev', 'KEY');
  // Where Landlock is missing this run fails, and the shield only starts slower.
  cache('lsm-shield', 'shield', '--no-env-files', '--', process.execPath, '-e', '0');
  cache('lsm-core', 'exec', 'app', 'dev', '--', process.execPath, '-e', '0');
} finally {
  rmSync(home, { recursive: true, force: true });
}
