// `npm run build:native`: compiles the same sources as the Node bundle into one
// executable with Bun (dist/lsm), so that `lsm get` starts without paying for Node.
//
//   node scripts/build-native.mjs                      # host platform → dist/lsm
//   node scripts/build-native.mjs --outfile=/tmp/lsm   # elsewhere (the tests build their own)
//   node scripts/build-native.mjs --target=bun-darwin-arm64 --executable-path=<that platform's bun>
//
// Bun comes from the npm package @oven/bun-<os>-<arch> (a devDependency on linux-x64),
// from $BUN, or from `bun` on PATH. A cross-compile needs the target platform's Bun
// binary: Bun would otherwise download it, and the build machines have no such access.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

// Bun's npm packages and --target names say darwin/linux/windows and x64/aarch64.
const BUN_OS = { win32: 'windows' };
const BUN_ARCH = { arm64: 'aarch64' };

/** The Bun that compiles: $BUN, the npm package for this host, or `bun` on PATH. */
export function findBun() {
  if (process.env.BUN) return process.env.BUN;
  const require = createRequire(join(ROOT, 'package.json'));
  const base = `@oven/bun-${BUN_OS[process.platform] ?? process.platform}-${BUN_ARCH[process.arch] ?? process.arch}`;
  const names = [base, `${base}-baseline`, `${base}-musl`, `${base}-musl-baseline`];
  for (const name of names) {
    try {
      const exe = join(dirname(require.resolve(`${name}/package.json`)), 'bin', process.platform === 'win32' ? 'bun.exe' : 'bun');
      if (existsSync(exe)) return exe;
    } catch { /* not installed for this host */ }
  }
  if (spawnSync('bun', ['--version'], { stdio: 'ignore' }).status === 0) return 'bun';
  throw new Error('build-native: no Bun found; set BUN=/path/to/bun, or npm install --no-save @oven/bun-<os>-<arch>');
}

// Bytecode spares JavaScriptCore parsing the ~500 KB bundle on every start (about 20 ms
// of a 32 ms `lsm get`). A high JIT threshold keeps a short command from spending its
// second core on compiling code it will have finished running before the JIT is done;
// a long one (a large import, audit verify) still tiers up, only later.
// The bench compiles its hello-world floor with the same flags.
export const COMPILE_FLAGS = [
  '--compile', '--bytecode', '--minify',
  // Split into chunks loaded on first import (ESM only): a plain get loads the keeper
  // client's chunk, not every command's.
  '--format=esm', '--splitting',
  '--compile-jit-policy=10',
  // A compiled Bun executable would otherwise read .env and bunfig.toml from the cwd
  // into its own process: a project's .env could then set LSM_DIR for lsm, and `lsm exec`
  // would pass that file's plaintext secrets to the child, which is what lsm replaces.
  '--no-compile-autoload-dotenv', '--no-compile-autoload-bunfig',
  '--no-compile-autoload-tsconfig', '--no-compile-autoload-package-json',
];

function main() {
  const opts = Object.fromEntries(
    process.argv.slice(2).map((a) => {
      const m = /^--([\w-]+)(?:=(.*))?$/.exec(a);
      if (!m) throw new Error(`build-native: unknown argument ${a}`);
      return [m[1], m[2] ?? 'true'];
    }),
  );
  for (const k of Object.keys(opts)) {
    if (!['target', 'outfile', 'executable-path', 'jit-policy'].includes(k)) throw new Error(`build-native: unknown option --${k}`);
  }
  let commit = '';
  const git = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (git.status === 0) commit = git.stdout.trim();

  const target = opts.target;
  const outfile = resolve(ROOT, opts.outfile ?? (target ? `dist/lsm-${target.replace(/^bun-/, '')}` : 'dist/lsm'));
  const args = [
    'build', 'src/native.ts',
    ...COMPILE_FLAGS.map((f) => (opts['jit-policy'] && f.startsWith('--compile-jit-policy=') ? `--compile-jit-policy=${opts['jit-policy']}` : f)),
    '--define', `LSM_VERSION=${JSON.stringify(pkg.version)}`,
    '--define', `LSM_COMMIT=${JSON.stringify(commit)}`,
    '--define', `LSM_BUILT=${JSON.stringify(new Date().toISOString())}`,
    // The executable calls the OS through bun:ffi (src/platform.ts); koffi is the Node
    // bundle's FFI, whose prebuilt binaries a compiled executable could not load anyway.
    '--external', 'koffi',
    '--outfile', outfile,
  ];
  if (target) args.push(`--target=${target}`);
  if (opts['executable-path']) args.push(`--compile-executable-path=${resolve(opts['executable-path'])}`);

  mkdirSync(dirname(outfile), { recursive: true });
  rmSync(outfile, { force: true });
  const bun = findBun();
  const r = spawnSync(bun, args, { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`build-native: ${bun} build failed (exit ${r.status ?? r.signal})`);
  }

  // A binary for this host is run once: a bundling mistake (a module left external, a
  // require Bun could not see) shows here rather than in a user's shell.
  if (!target) {
    const v = spawnSync(outfile, ['version'], { encoding: 'utf8', cwd: dirname(outfile) });
    if (v.status !== 0 || !v.stdout.startsWith(`lsm ${pkg.version}`)) {
      throw new Error(`build-native: ${outfile} does not run: ${v.stderr || v.stdout}`);
    }
  }
  process.stderr.write(`build-native: ${outfile}${target ? ` (${target})` : ''}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
