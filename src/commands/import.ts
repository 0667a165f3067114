import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { LsmError, usage } from '../errors.js';
import { isName, shown } from '../names.js';
import { parseEnv, type EnvDocument, type SetResult } from '../dotenv.js';
import { listStores } from '../store.js';
import { record } from '../audit/record.js';
import { readStdin } from '../term/prompt.js';
import { decodeEnv, findEnvFiles, isEnvFileName, readEnvText, refuseNul } from '../envfiles.js';
import { resolveTarget, splitPositional, type Positional, type Target } from '../resolve.js';
import { requireHome } from './common.js';
import { vaultOf } from '../vault-of.js';
import type { Context } from '../context.js';

/**
 * `import [app] [env] [FILE|-]`: merges a .env file into a store with `set` semantics
 * (existing keys keep their place, new ones are appended), carrying the file's comments
 * (EnvDocument.merge): the dialect is lossless, and `clean` keeps a file whose comments
 * the store lacks. Into an empty store the file goes as it is. The whole file is parsed before anything is written, so a malformed line
 * imports nothing. `--dry-run` is recorded too: `=` versus `~` tells whether a value
 * equals the stored one, which is a read of the store.
 */
export async function run(ctx: Context, args: string[], opts: { dryRun?: boolean }): Promise<number> {
  const { file, pos } = splitArgs(ctx, args);
  const source = file ?? autodetect(ctx);
  const label = source === '-' ? '-' : basename(source);
  const { target, envFrom } = await targetFor(ctx, pos, label);
  requireHome(ctx);
  const base = { event: 'import', ...target };
  let incoming: EnvDocument;
  try {
    incoming = await readSource(ctx, source);
  } catch (err) {
    await record(ctx, { ...base, outcome: 'error', fields: { file: label, ...envFrom, reason: reasonOf(err) } }, { failClosed: false });
    throw err;
  }
  const keys = incoming.keys();
  const vault = await vaultOf(ctx);
  // Parsed here first, so a malformed line imports nothing; the text goes as it is.
  const tally = await vault.importText(target, { text: incoming.serialize(), label, fields: { file: label, ...envFrom }, dryRun: Boolean(opts.dryRun) });
  if (opts.dryRun) {
    const lines = [...(tally.lines ?? []), `Dry run for ${target.app}/${target.env}: ${summary(tally)}; nothing was written.`];
    ctx.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  }
  const comments = tally.comments;
  const out = [`Imported ${label === '-' ? 'stdin' : label} into ${target.app}/${target.env}: ${summary(tally)}${comments > 0 ? `, ${comments} comment line${comments === 1 ? '' : 's'}` : ''}`];
  for (const k of tally.added) out.push(`  + ${k}`);
  for (const k of tally.changed) out.push(`  ~ ${k}`);
  const reminder = source !== '-' && keys.length > 0 ? reminderFor(ctx, source, target) : undefined;
  if (reminder) out.push(reminder);
  ctx.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

/** Names that mean one env: `.env.production` is the env prod where that is the app's. */
const ALIASES = [['prod', 'production'], ['dev', 'development'], ['stage', 'staging'], ['test', 'testing']];

/** The env a file name names (`.env.production`, `.env.staging.local`), if any. */
export function envOfFileName(name: string): string | undefined {
  const m = /^\.env\.([A-Za-z0-9_][A-Za-z0-9_-]*)(?:\.local)?$/.exec(name);
  return m && m[1] !== 'local' ? m[1] : undefined;
}

/**
 * The store: as for any command, except that a file whose name names an env
 * (`.env.production`) goes into that env when no env is given, rather than silently
 * into the default one; an env given that the name contradicts is warned about.
 */
async function targetFor(ctx: Context, pos: Positional, label: string): Promise<{ target: Target; envFrom: Record<string, string> }> {
  const named = envOfFileName(label);
  const given = ctx.flags.env ?? pos.env;
  if (named === undefined) return { target: await resolveTarget(ctx, pos), envFrom: {} };
  const same = [named, ...(ALIASES.find((g) => g.includes(named)) ?? [])];
  if (given !== undefined) {
    const target = await resolveTarget(ctx, pos);
    if (!same.includes(target.env)) ctx.stderr.write(`lsm: warning: importing ${label} into ${target.app}/${target.env} as given, though its name says env ${named}\n`);
    return { target, envFrom: {} };
  }
  const first = await resolveTarget(ctx, { ...pos, env: named });
  const existing = new Set(listStores(ctx.home).filter((s) => s.app === first.app).map((s) => s.env));
  const env = same.find((e) => existing.has(e)) ?? named;
  ctx.stderr.write(`lsm: importing into ${first.app}/${env}: the file name ${label} names that env (pass --env to choose another)\n`);
  return { target: { app: first.app, env }, envFrom: { env_from: 'file_name' } };
}

/** What to do with the plaintext file now: true of what `lsm clean` can see. */
function reminderFor(ctx: Context, source: string, target: Target): string | undefined {
  const path = resolve(ctx.cwd, source);
  try {
    if (!statSync(path).isFile()) return undefined; // a pipe such as <(sops -d .env) leaves nothing behind
  } catch {
    return undefined;
  }
  const shownAs = basename(path);
  if (!isEnvFileName(shownAs)) {
    return `Reminder: ${source} still holds these values in plaintext, and 'lsm clean' does not look at it (only .env and .env.* files): delete it yourself once it is no longer needed.`;
  }
  if (dirname(path) !== ctx.cwd) {
    return `Reminder: ${source} still holds these values in plaintext; 'lsm clean' looks only in the directory it runs in: cd ${dirname(path)} && lsm clean --app ${target.app} --env ${target.env}`;
  }
  return `Reminder: ${shownAs} still holds these values in plaintext; 'lsm clean' removes it once everything in it is stored.`;
}

function summary(t: Record<SetResult, string[]>): string {
  return `${t.added.length} added, ${t.changed.length} changed, ${t.unchanged.length} unchanged`;
}

function reasonOf(err: unknown): string {
  return err instanceof LsmError ? err.code : 'internal';
}

/**
 * Which argument is the FILE: the last one when it is `-`, is not a valid app/env name
 * (`.env.local`, `config/dev.env`), or is one more than app and env can take. A valid
 * name that is also a file here is refused as ambiguous rather than guessed: the
 * original took `lsm import secrets.env` and `lsm import -` as app names.
 */
function splitArgs(ctx: Context, args: string[]) {
  const room = (ctx.flags.app !== undefined ? 0 : 1) + (ctx.flags.env !== undefined ? 0 : 1);
  const last = args.at(-1);
  if (last === undefined) return { file: undefined, pos: splitPositional(args, 0, ctx.flags) };
  if (last === '-' || !isName(last) || args.length > room) {
    return { file: last, pos: splitPositional(args.slice(0, -1), 0, ctx.flags) };
  }
  if (isFile(resolve(ctx.cwd, last))) {
    throw usage(`ambiguous: ${shown(last)} is a file here and could also be an app or env name`, `write ./${last} to import the file, or name the store with --app/--env`);
  }
  return { file: undefined, pos: splitPositional(args, 0, ctx.flags) };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function autodetect(ctx: Context): string {
  const found = findEnvFiles(ctx.cwd);
  if (found.length === 0) {
    throw new LsmError('not_found', `no .env files in ${ctx.cwd}`, { hint: "name a file (lsm import path/to/file.env) or pipe one in with '-'" });
  }
  if (found.length > 1) {
    throw usage(`found ${found.length} .env files here (${found.map((f) => f.name).join(', ')}); which one?`, `name it: lsm import [app] [env] ./${found[0].name}`);
  }
  ctx.stdout.write(`Reading ${found[0].name}\n`);
  return found[0].path;
}

async function readSource(ctx: Context, source: string): Promise<EnvDocument> {
  let text: string;
  let shownAs: string;
  if (source === '-') {
    shownAs = '<stdin>';
    if (ctx.stdin.isTTY) ctx.stderr.write('Reading .env text from the terminal; end it with Ctrl-D.\n');
    text = decodeEnv(await readStdin(ctx.stdin), shownAs);
  } else {
    const path = resolve(ctx.cwd, source);
    shownAs = source;
    if (existsSync(path) && statSync(path).isDirectory()) throw new LsmError('io', `cannot read ${source}: is a directory`);
    text = readEnvText(path, shownAs);
  }
  const doc = parseEnv(text, shownAs);
  refuseNul(doc, shownAs);
  return doc;
}

