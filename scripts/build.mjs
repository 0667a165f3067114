// Bundles the CLI into one CommonJS file: .cjs starts faster than .mjs, and one file
// means one read and one parse at start-up. Modules reached only through dynamic
// import() are wrapped lazily by esbuild, so a command pays only for what it loads.
import { build } from 'esbuild';
import { readFileSync, chmodSync, copyFileSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let commit = '';
try {
  const { execFileSync } = await import('node:child_process');
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch { /* not a git checkout */ }

await build({
  entryPoints: ['src/bin.ts'],
  outfile: 'dist/lsm-core.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifySyntax: true,
  legalComments: 'none',
  define: {
    LSM_VERSION: JSON.stringify(pkg.version),
    LSM_COMMIT: JSON.stringify(commit),
    LSM_BUILT: JSON.stringify(new Date().toISOString()),
  },
  // yaml is large and only needed off the fast path (config edits, unusual YAML): it is
  // required from node_modules when first used instead of being parsed at every start.
  external: ['yaml'],
  // The launcher runs the bundle through vm.Script, which has no import(): turn it into require().
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
});
copyFileSync('scripts/launcher.cjs', 'dist/lsm.cjs');
chmodSync('dist/lsm.cjs', 0o755);

// The code cache: one representative `lsm get` in a throwaway home, so the cache holds
// what the hot path runs. Without it lsm still works, only slower to start.
try { unlinkSync('dist/lsm-core.cache'); } catch { /* first build */ }
const home = mkdtempSync(join(tmpdir(), 'lsm-cache-'));
try {
  const env = { ...process.env, LSM_DIR: join(home, 'h') };
  const lsm = (...args) => spawnSync(process.execPath, ['dist/lsm.cjs', ...args], { env, stdio: 'ignore' });
  lsm('init');
  lsm('set', 'app', 'dev', 'KEY', 'value');
  const r = spawnSync(process.execPath, ['scripts/code-cache.cjs', 'dist/lsm.cjs', 'get', 'app', 'dev', 'KEY'], { env, stdio: 'ignore' });
  if (r.status !== 0) console.warn('build: no code cache (the representative run failed)');
} finally {
  rmSync(home, { recursive: true, force: true });
}
