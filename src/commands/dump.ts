import { accessSync, appendFileSync, constants, lstatSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join, resolve } from 'node:path';
import { LsmError, errno, ioError, usage } from '../errors.js';
import { storeExists } from '../store.js';
import { readRegular, writeFileAtomic } from '../atomic.js';
import { record } from '../audit/record.js';
import { confirm } from '../term/prompt.js';
import { stdinIsTTY } from '../term/tty.js';
import { mask } from '../mask.js';
import { requireHome, targetOf } from './common.js';
import { parseEnv } from '../dotenv.js';
import { vaultOf } from '../vault-of.js';
import type { Context } from '../context.js';

interface Opts {
  output?: string;
  stdout?: boolean;
  force?: boolean;
  reason?: string;
  withCanaries?: boolean;
}

/**
 * `dump [app] [env] [-o FILE] [--stdout] [--force]`: writes the store's .env text
 * (byte for byte, comments included) to a 0600 file and shows only masked values.
 * An existing file is replaced only after a yes on the terminal or with --force: the
 * original overwrote it silently whenever stdin was not a terminal.
 */
export async function run(ctx: Context, args: string[], opts: Opts): Promise<number> {
  if (args.length > 2) throw usage('too many arguments', 'lsm dump [app] [env] [-o FILE]');
  if (opts.stdout && opts.output !== undefined) throw usage('--stdout and -o are exclusive', 'choose a file or stdout');
  if (opts.output === '') throw usage('-o needs a file name', 'lsm dump -o .env.local, or --stdout');
  // `-o -` would write a plaintext file named '-' where a reader expects stdout.
  if (opts.output === '-') throw usage("-o - is not stdout here: use --stdout", 'lsm dump --stdout');
  const { target } = await targetOf(ctx, args, 0);
  requireHome(ctx);
  if (!storeExists(ctx.home, target)) {
    throw new LsmError('not_found', `no store for ${target.app}/${target.env}`, { hint: "'lsm apps' and 'lsm envs <app>' list what exists" });
  }
  const vault = await vaultOf(ctx);
  const stdout = Boolean(opts.stdout);
  const open = (name: string) => vault.reveal(target, { command: 'dump', event: 'dump', fields: { target: name, stdout }, withCanaries: opts.withCanaries, reason: opts.reason });
  const nothing = () => {
    ctx.stderr.write(`lsm: no secrets in ${target.app}/${target.env}; nothing written\n`);
    return 0;
  };
  if (stdout) {
    const r = await open('-');
    if (r.keys.length === 0) return nothing();
    ctx.stdout.write(r.text);
    return 0;
  }

  const path = resolve(ctx.cwd, opts.output ?? '.env');
  const name = basename(path);
  const failed = (reason: string) => record(ctx, { event: 'dump', ...target, outcome: 'error', fields: { target: name, stdout, reason } }, { failClosed: false });
  let allowed: boolean;
  try {
    allowed = await mayWrite(ctx, path, opts.output ?? '.env', opts.force);
  } catch (err) {
    await failed('not_confirmed');
    throw err;
  }
  if (!allowed) {
    await failed('not_confirmed');
    ctx.stderr.write(`lsm: aborted: ${opts.output ?? '.env'} was not overwritten\n`);
    return 1;
  }
  // A directory that is missing or not writable fails here, with one event, rather than
  // after the dump's own event has said it happened.
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch (err) {
    await failed('write_failed');
    throw ioError('write', path, err);
  }
  // Recorded (by reveal) before the plaintext exists anywhere: a dump that cannot be recorded does not happen.
  const r = await open(name);
  if (r.keys.length === 0) return nothing();
  try {
    writeFileAtomic(path, r.text, 0o600);
  } catch (err) {
    await failed('write_failed');
    throw err;
  }
  const entries = parseEnv(r.text).entries();
  const lines = entries.map(([k, v]) => `${k}=${mask(v)}`);
  lines.push(`Wrote ${entries.length} secret${entries.length === 1 ? '' : 's'} to ${opts.output ?? '.env'} (mode 0600)`);
  ctx.stdout.write(`${lines.join('\n')}\n`);
  ensureIgnored(ctx, path);
  return 0;
}


/** Whether `path` may be (over)written: free, --force, or a yes on the terminal. */
async function mayWrite(ctx: Context, path: string, shownPath: string, force?: boolean): Promise<boolean> {
  let isDir: boolean;
  try {
    isDir = lstatSync(path).isDirectory();
  } catch (err) {
    if (errno(err) === 'ENOENT') return true;
    throw err;
  }
  if (isDir) throw new LsmError('io', `cannot write ${shownPath}: is a directory`);
  if (force) return true;
  if (!stdinIsTTY()) {
    throw new LsmError('exists', `${shownPath} already exists; not overwriting it without a terminal to ask on`, {
      hint: 'pass --force to replace it, or -o to write elsewhere',
    });
  }
  return confirm(ctx.stdin, ctx.stderr, `${shownPath} already exists. Overwrite?`);
}

/**
 * Adds the written file to the .gitignore of its own directory when git says it is in
 * a work tree and not ignored yet. Git itself judges (patterns like `.env*`, global
 * excludes), not a line compare as in the original, which also edited the cwd's
 * .gitignore whatever -o said. The entry is anchored (`/.env`) in the nearest
 * .gitignore, so it names exactly this file. No git, no work tree, or a git failure:
 * nothing is done.
 */
function ensureIgnored(ctx: Context, path: string): void {
  const dir = dirname(path);
  const name = basename(path);
  const git = (...args: string[]) => spawnSync('git', ['-C', dir, ...args], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000, encoding: 'utf8' });
  const inside = git('rev-parse', '--is-inside-work-tree');
  if (inside.error || inside.status !== 0 || inside.stdout.trim() !== 'true') return;
  if (git('ls-files', '--error-unmatch', '--', name).status === 0) {
    ctx.stderr.write(`lsm: warning: ${name} is tracked by git; ignoring it does not untrack it (git rm --cached ${name})\n`);
  }
  // --no-index: judge the patterns even when the file is tracked.
  if (git('check-ignore', '-q', '--no-index', '--', name).status !== 1) return;
  const ignoreFile = join(dir, '.gitignore');
  let before = '';
  try {
    before = readRegular(ignoreFile).toString('utf8');
  } catch { /* created below */ }
  try {
    appendFileSync(ignoreFile, `${before === '' || before.endsWith('\n') ? '' : '\n'}${ignorePattern(name)}\n`);
  } catch (err) {
    ctx.stderr.write(`lsm: warning: could not add ${name} to ${ignoreFile}: ${errno(err) ?? 'error'}\n`);
    return;
  }
  ctx.stdout.write(`Added ${ignorePattern(name)} to ${ignoreFile}\n`);
}

/** A pattern for exactly this name in its directory: glob characters and a trailing space escaped. */
function ignorePattern(name: string): string {
  return `/${name.replace(/[*?[\\]/g, '\\$&').replace(/ $/, '\\ ')}`;
}
