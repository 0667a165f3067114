import { accessSync, appendFileSync, constants, lstatSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join, resolve } from 'node:path';
import { LsmError, errno, ioError, usage } from '../errors.js';
import { loadStore } from '../store.js';
import { readRegular, writeFileAtomic } from '../atomic.js';
import { record } from '../audit/record.js';
import { confirm } from '../term/prompt.js';
import { stdinIsTTY } from '../term/tty.js';
import { mask } from '../mask.js';
import { identityOf, targetOf } from './common.js';
import { enforceEgress } from '../policy.js';
import { canaryNames, recordCanaryReads } from '../canary.js';
import { parseEnv, type EnvDocument } from '../dotenv.js';
import type { Target } from '../resolve.js';
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
  const id = await identityOf(ctx);
  const { doc: stored, exists } = await loadStore(ctx.home, target, id);
  if (!exists) {
    throw new LsmError('not_found', `no store for ${target.app}/${target.env}`, { hint: "'lsm apps' and 'lsm envs <app>' list what exists" });
  }
  const doc = opts.withCanaries ? stored : withoutCanaries(ctx, target, stored);
  const entries = doc.entries();
  if (entries.length === 0) {
    await record(ctx, { event: 'dump', ...target, fields: { count: 0, stdout: Boolean(opts.stdout) } }, { failClosed: false });
    ctx.stderr.write(`lsm: no secrets in ${target.app}/${target.env}; nothing written\n`);
    return 0;
  }
  const keys = entries.map(([k]) => k);
  // the egress policy; a refusal is recorded and thrown before anything is written.
  const egress = await enforceEgress(ctx, { command: 'dump', target, fields: { keys, count: entries.length, stdout: Boolean(opts.stdout) }, keys, reason: opts.reason });
  const fields = (name: string) => ({ target: name, count: entries.length, stdout: Boolean(opts.stdout), keys, ...egress.fields });

  if (opts.stdout) {
    await record(ctx, { event: 'dump', ...target, fields: fields('-') }, { failClosed: true });
    await recordCanaryReads(ctx, target, egress.canaries, 'dump');
    ctx.stdout.write(doc.serialize());
    return 0;
  }

  const path = resolve(ctx.cwd, opts.output ?? '.env');
  const name = basename(path);
  let allowed: boolean;
  try {
    allowed = await mayWrite(ctx, path, opts.output ?? '.env', opts.force);
  } catch (err) {
    await record(ctx, { event: 'dump', ...target, outcome: 'error', fields: { ...fields(name), reason: 'not_confirmed' } }, { failClosed: false });
    throw err;
  }
  if (!allowed) {
    await record(ctx, { event: 'dump', ...target, outcome: 'error', fields: { ...fields(name), reason: 'not_confirmed' } }, { failClosed: false });
    ctx.stderr.write(`lsm: aborted: ${opts.output ?? '.env'} was not overwritten\n`);
    return 1;
  }
  // A directory that is missing or not writable fails here, with one event, rather than
  // after the dump's own event has said it happened.
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch (err) {
    await record(ctx, { event: 'dump', ...target, outcome: 'error', fields: { ...fields(name), reason: 'write_failed' } }, { failClosed: false });
    throw ioError('write', path, err);
  }
  // Recorded before the plaintext exists anywhere: a dump that cannot be recorded does not happen.
  await record(ctx, { event: 'dump', ...target, fields: fields(name) }, { failClosed: true });
  await recordCanaryReads(ctx, target, egress.canaries, 'dump');
  try {
    writeFileAtomic(path, doc.serialize(), 0o600);
  } catch (err) {
    await record(ctx, { event: 'dump', ...target, outcome: 'error', fields: { ...fields(name), reason: 'write_failed' } }, { failClosed: false });
    throw err;
  }
  const lines = entries.map(([k, v]) => `${k}=${mask(v)}`);
  lines.push(`Wrote ${entries.length} secret${entries.length === 1 ? '' : 's'} to ${opts.output ?? '.env'} (mode 0600)`);
  ctx.stdout.write(`${lines.join('\n')}\n`);
  ensureIgnored(ctx, path);
  return 0;
}

/**
 * The store without its canaries, as exec injects it: a dumped .env is the owner's own
 * working copy, pasted, synced and backed up, and a decoy in it would raise the alarm
 * against the owner rather than catch the agent. Silently, as in exec: output that named
 * the decoys would tell the reader which keys they are.
 */
function withoutCanaries(ctx: Context, target: Target, doc: EnvDocument): EnvDocument {
  const names = canaryNames(ctx.home, target, (m) => ctx.stderr.write(m));
  if (!doc.keys().some((k) => names.has(k))) return doc;
  const copy = parseEnv(doc.serialize());
  for (const k of names) copy.delete(k);
  return copy;
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
