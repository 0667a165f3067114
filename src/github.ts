import { spawnSync } from 'node:child_process';
import { LsmError, errno, usage } from './errors.js';
import { shown } from './names.js';
import { appForDir, resolveTarget, type Target } from './resolve.js';
import { editConfig, readConfig, setting, type Config, type ConfigTree } from './config.js';
import type { Context } from './context.js';
import type { Home } from './home.js';

/**
 * GitHub Actions secrets through the GitHub CLI (`gh`): which repository a project
 * pushes to, running gh without ever putting a value in its argv, reading its secret
 * list, and the local marker of the last push in config.yaml. github.com only.
 */

/** Long enough for a slow network, short enough that a stuck gh cannot hang a script. */
export const GH_TIMEOUT_MS = 60_000;

/** A repository's Actions secrets, or those of one of its deployment environments. */
export interface GhTarget {
  repo: string;
  ghEnv?: string;
}

/** `acme/widget` or `acme/widget (environment "prod")`, as the original prints it. */
export function targetLabel(t: GhTarget): string {
  return t.ghEnv ? `${t.repo} (environment "${t.ghEnv}")` : t.repo;
}

/** The audit field: `repo` or `env:<name>` (the original's naming, kept for compatibility). */
export function auditTarget(t: GhTarget): string {
  return t.ghEnv ? `env:${t.ghEnv}` : 'repo';
}

/** The marker field: `actions` or `env:<name>` (the original names the repo level differently here). */
export function markerTarget(t: GhTarget): string {
  return t.ghEnv ? `env:${t.ghEnv}` : 'actions';
}

export function scopeArgs(t: GhTarget): string[] {
  return ['--repo', t.repo, ...(t.ghEnv ? ['--env', t.ghEnv] : [])];
}

/** Byte order, like Go's sort.Strings: the order secrets are sent and listed in. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// --- which app, env and repository -------------------------------------------------

/**
 * gh binds to the directory: the app is the linked project of the cwd (or its nearest
 * linked ancestor), never --app nor .lsm.yaml, so a push cannot be pointed at another
 * project's secrets by a flag or by a file checked into the repository.
 */
export async function resolveGhProject(ctx: Context): Promise<{ target: Target; config: Config }> {
  if (ctx.flags.app !== undefined) {
    throw usage('gh commands do not accept --app; the app is the lsm project linked to the current directory',
      "cd into the project (run 'lsm link <app>' there once)");
  }
  const config = await readConfig(ctx.home);
  const app = appForDir(config, ctx.cwd);
  if (!app) {
    throw new LsmError('no_app', `current directory is not a registered lsm project: ${ctx.cwd}`, {
      hint: "run 'lsm link <app>' here first",
    });
  }
  return { target: await resolveTarget(ctx, { app, rest: [] }, config), config };
}

export function emptyStore(t: Target): LsmError {
  return new LsmError('not_found', `no secrets found for ${t.app}/${t.env}; this project is not set up locally for this env (run 'lsm set' / 'lsm import' first)`);
}

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;

function isRepo(s: string): boolean {
  const parts = s.split('/');
  return parts.length === 2 && OWNER.test(parts[0]!) && REPO.test(parts[1]!) && parts[1] !== '.' && parts[1] !== '..';
}

/** Drops `user:password@` from a URL: remotes like https://x:TOKEN@github.com/... exist. */
export function stripUserinfo(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/, '$1');
}

export function checkRepo(s: string): string {
  if (!isRepo(s)) throw usage(`invalid repository ${shown(stripUserinfo(s))}`, 'expected OWNER/REPO, e.g. --repo acme/widget');
  return s;
}

/** GitHub puts the name in a URL path unescaped (gh does not escape it), so keep it plain. */
export function checkGhEnv(s: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/.test(s)) {
    throw usage(`invalid GitHub environment name ${shown(s)}`, "use letters, digits, '_', '.' and '-'");
  }
  return s;
}

/**
 * OWNER/REPO of a github.com remote, in the original's forms: git@github.com:O/R,
 * ssh://git@github.com/O/R, https://github.com/O/R, http://github.com/O/R (.git and
 * slashes trimmed). Errors name the host only, never the URL, which may hold a token.
 */
export function repoFromRemote(raw: string): string {
  const url = stripUserinfo(raw.trim());
  let host: string;
  let path: string;
  const full = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(url);
  const scp = /^(?:[^@/:]+@)?([^/:]+):(?!\/\/)(.*)$/.exec(url);
  if (full) {
    if (!['https', 'http', 'ssh'].includes(full[1]!.toLowerCase())) {
      throw new LsmError('config', `the 'origin' remote uses ${shown(full[1]!)}://, which lsm gh does not support`, { hint: ghRepoHint });
    }
    host = full[2]!;
    path = full[3]!;
  } else if (scp) {
    host = scp[1]!;
    path = scp[2]!;
  } else {
    throw new LsmError('config', "the 'origin' remote is not a GitHub URL", { hint: ghRepoHint });
  }
  if (host.toLowerCase() !== 'github.com') {
    throw new LsmError('config', `the 'origin' remote is on ${shown(host)}, not github.com`, {
      hint: `lsm gh supports github.com only (not GitHub Enterprise); ${ghRepoHint}`,
    });
  }
  const repo = path.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '').replace(/\/+$/, '');
  if (!isRepo(repo)) throw new LsmError('config', "the 'origin' remote does not name a repository as OWNER/REPO", { hint: ghRepoHint });
  return repo;
}

const ghRepoHint = 'pass --repo OWNER/REPO to name a github.com repository';

/** `git remote get-url origin` of the cwd. */
export function originUrl(ctx: Context): string {
  const r = spawnSync('git', ['remote', 'get-url', 'origin'], {
    cwd: ctx.cwd, env: ctx.env, encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true,
  });
  if (r.error) {
    if (errno(r.error) === 'ENOENT') throw new LsmError('exec', "git was not found on PATH, so the 'origin' remote cannot be read", { hint: ghRepoHint });
    throw new LsmError('exec', `cannot run git: ${errno(r.error) ?? 'unknown error'}`, { hint: ghRepoHint });
  }
  if (r.status !== 0) {
    if (/not a git repository/i.test(r.stderr)) {
      throw new LsmError('not_found', `${ctx.cwd} is not inside a git repository, so it has no 'origin' remote`, { hint: ghRepoHint });
    }
    throw new LsmError('not_found', "this git repository has no 'origin' remote", {
      hint: `add one (git remote add origin git@github.com:OWNER/REPO.git) or ${ghRepoHint}`,
    });
  }
  return r.stdout.trim();
}

/** --repo (validated) or the origin remote; --gh-env validated. */
export function ghTargetOf(ctx: Context, opts: { repo?: string; ghEnv?: string }): GhTarget {
  const repo = opts.repo !== undefined ? checkRepo(opts.repo) : repoFromRemote(originUrl(ctx));
  return { repo, ghEnv: opts.ghEnv !== undefined ? checkGhEnv(opts.ghEnv) : undefined };
}

// --- running gh ----------------------------------------------------------------------

export interface GhRun {
  status: number;
  stdout: string;
  stderr: string;
}

// With these, gh would send `--repo OWNER/REPO` to an Enterprise host (GH_HOST), or
// believe it has a terminal and prompt, page or colour its JSON.
const DROPPED_ENV = ['GH_HOST', 'GH_FORCE_TTY', 'CLICOLOR_FORCE', 'GH_PAGER'];

function ghEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, GH_PROMPT_DISABLED: '1', GH_NO_UPDATE_NOTIFIER: '1', NO_COLOR: '1' };
  for (const k of DROPPED_ENV) delete out[k];
  return out;
}

export const GH_MISSING = "the GitHub CLI ('gh') was not found on PATH; install it from https://cli.github.com/ and run 'gh auth login'";

/**
 * Runs gh with `input` as its whole stdin. stdin is always a pipe, closed after the
 * input: an empty value is sent as an empty pipe (the original used the null device,
 * which reads the same to gh but is a terminal by its own test). Never throws on a
 * non-zero exit; throws when gh is missing or times out.
 */
export function runGh(ctx: Context, args: string[], input = ''): GhRun {
  const r = spawnSync('gh', args, {
    cwd: ctx.cwd,
    env: ghEnvironment(ctx.env),
    input: Buffer.from(input, 'utf8'),
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: GH_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 16 * 1024 * 1024,
    windowsHide: true,
    encoding: 'utf8',
  });
  if (r.error) {
    const code = errno(r.error);
    if (code === 'ENOENT') throw new LsmError('exec', GH_MISSING);
    if (code === 'ETIMEDOUT') throw new LsmError('exec', `gh ${args.slice(0, 2).join(' ')} did not finish within ${GH_TIMEOUT_MS / 1000} s`);
    throw new LsmError('exec', `cannot run gh: ${code ?? 'unknown error'}`);
  }
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * gh's error output in one line, for our own message. gh never echoes stdin, but a
 * server message could quote anything: if it contains any of `values`, it is withheld.
 */
export function summarize(text: string, values: readonly string[] = []): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.replace(/^[\s*]+/, '').trim())
    .filter((l) => l !== '' && !/^\d+ errors? occurred:?$/.test(l));
  const full = lines.join('; ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  if (values.some((v) => v !== '' && full.includes(v))) return "gh's message withheld: it quotes a secret value";
  if (full === '') return 'gh gave no message';
  return full.length > 300 ? `${full.slice(0, 300)}...` : full;
}

/** gh is on PATH and logged in to github.com (other hosts' state does not matter here). */
export function ghPreflight(ctx: Context): void {
  const r = runGh(ctx, ['auth', 'status', '--hostname', 'github.com']);
  if (r.status !== 0) {
    throw new LsmError('exec', `gh is not authenticated; run 'gh auth login' first (${summarize(r.stderr || r.stdout)})`);
  }
}

export interface RemoteSecret {
  name: string;
  updatedAt: string;
}

/** The output of `gh secret list --json name,updatedAt`: a JSON array (`[]` when none). */
export function parseSecretList(text: string): RemoteSecret[] {
  if (text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new LsmError('exec', 'gh secret list did not print JSON', { hint: 'is gh recent enough to know --json? (gh 2.x)' });
  }
  if (!Array.isArray(value)) throw new LsmError('exec', 'gh secret list printed JSON that is not a list');
  return value.map((item: unknown) => {
    const o = item as { name?: unknown; updatedAt?: unknown } | null;
    if (o === null || typeof o !== 'object' || typeof o.name !== 'string') {
      throw new LsmError('exec', 'gh secret list printed an entry without a name');
    }
    return { name: o.name, updatedAt: typeof o.updatedAt === 'string' ? o.updatedAt : '' };
  });
}

export function listRemote(ctx: Context, t: GhTarget, values: readonly string[] = []): RemoteSecret[] {
  const r = runGh(ctx, ['secret', 'list', ...scopeArgs(t), '--json', 'name,updatedAt']);
  if (r.status !== 0) throw new LsmError('exec', `gh secret list failed for ${targetLabel(t)}: ${summarize(r.stderr, values)}`);
  return parseSecretList(r.stdout).sort((a, b) => byteOrder(a.name, b.name));
}

// --- GitHub's rules for names ---------------------------------------------------------

/** GitHub compares secret names case-insensitively (and stores them upper-cased). */
export function ghName(name: string): string {
  return name.toUpperCase();
}

/**
 * Refuses, before anything is sent, names GitHub would reject part-way through a push:
 * the reserved GITHUB_ prefix, and two keys that differ only in case.
 */
export function checkPushable(names: readonly string[]): void {
  const reserved = names.filter((n) => ghName(n).startsWith('GITHUB_'));
  if (reserved.length > 0) {
    throw new LsmError('invalid_name', `GitHub refuses secret names starting with GITHUB_: ${reserved.join(', ')}`, {
      hint: 'rename these keys in the store; nothing was sent', exit: 1,
    });
  }
  const seen = new Map<string, string>();
  for (const n of names) {
    const other = seen.get(ghName(n));
    if (other !== undefined) {
      throw new LsmError('invalid_name', `keys ${other} and ${n} name the same GitHub secret (GitHub ignores case in names)`, {
        hint: 'keep one of them; nothing was sent', exit: 1,
      });
    }
    seen.set(ghName(n), n);
  }
}

// --- the marker ------------------------------------------------------------------------

/** config.yaml `github.<app>`: what lsm last pushed from this app. A hint, not a truth. */
export interface Marker {
  repo: string;
  target: string;
  /** The env pushed: two envs pushed to one target overwrite each other's secrets. */
  env?: string;
  last_pushed?: string;
  last_count?: number;
}

export function readMarker(tree: ConfigTree, app: string): Marker | undefined {
  const m = setting(tree, 'github', app);
  if (m === null || typeof m !== 'object') return undefined;
  const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
  const count = Number(m.last_count);
  return {
    repo: str(m.repo),
    target: str(m.target),
    env: str(m.env) || undefined,
    last_pushed: str(m.last_pushed) || undefined,
    last_count: Number.isFinite(count) && m.last_count !== null && m.last_count !== undefined ? count : undefined,
  };
}

/** RFC 3339 UTC to the second, as the original writes last_pushed. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function writeMarker(home: Home, app: string, m: Marker): Promise<void> {
  await editConfig(home, (doc) => {
    const node = doc.createNode(m) as import('yaml').YAMLMap;
    // Quoted as the original writes it, so no YAML 1.1 reader takes it for a timestamp.
    const ts = node.get('last_pushed', true) as import('yaml').Scalar | undefined;
    if (ts) ts.type = 'QUOTE_DOUBLE';
    doc.setIn(['github', app], node);
  });
}
