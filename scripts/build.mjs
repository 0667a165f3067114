// Bundles the CLI into one CommonJS file: .cjs starts faster than .mjs, and one file
// means one read and one parse at start-up. Modules reached only through dynamic
// import() are wrapped lazily by esbuild, so a command pays only for what it loads.
import { build } from 'esbuild';
import { readFileSync, chmodSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let commit = '';
try {
  const { execFileSync } = await import('node:child_process');
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch { /* not a git checkout */ }

await build({
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/lsm.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifySyntax: true,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  define: {
    LSM_VERSION: JSON.stringify(pkg.version),
    LSM_COMMIT: JSON.stringify(commit),
    LSM_BUILT: JSON.stringify(new Date().toISOString()),
  },
  logLevel: 'warning',
});
chmodSync('dist/lsm.cjs', 0o755);
