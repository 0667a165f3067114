import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { Socket } from 'node:net';
import { constants as os } from 'node:os';
import { EXIT, LsmError, errno, usage } from '../errors.js';
import { checkKey, shown } from '../names.js';
import { vaultOf } from '../vault-of.js';
import { notExecutable, notFound } from '../local-vault.js';
import { isTerminal } from '../term/tty.js';
import { relaySignals } from '../relay.js';
import { findOnPath } from '../command-path.js';
import { requireHome, targetOf } from './common.js';
import { closeFifos, makeFifos } from '../fifo.js';
import type { Context } from '../context.js';

interface Opts {
  only?: string;
  pristine?: boolean;
  // --mask/--no-mask, --with-canaries, --reason
  mask?: boolean;
  withCanaries?: boolean;
  reason?: string;
}

/** What a --pristine child keeps of lsm's environment, before the secrets are added. */
export const PRISTINE = ['PATH', 'HOME', 'USER', 'SHELL', 'TERM', 'LANG'] as const;


/**
 * `exec [app] [env] [--only K,...] [--pristine] -- command [args...]`: runs the command
 * with the store's secrets in its environment (they win over inherited variables),
 * and ends as the command ended: same exit code, or death by the same signal.
 */
export async function run(ctx: Context, args: string[], opts: Opts): Promise<number> {
  const dash = ctx.argv.indexOf('--');
  const command = dash === -1 ? [] : ctx.argv.slice(dash + 1);
  if (command.length === 0 || command.length > args.length) {
    const guess = dash === -1 && args.length > 0 ? ` (did you mean \`lsm exec -- ${args.join(' ')}\`?)` : '';
    throw usage('missing the command to run', `lsm exec [app] [env] [--only KEY,...] [--pristine] -- command [args...]${guess}`);
  }
  const lead = args.slice(0, args.length - command.length);
  if (lead.length > 2) throw usage('too many arguments before --', 'lsm exec [app] [env] -- command [args...]');
  const { target } = await targetOf(ctx, lead, 0);
  const only = opts.only === undefined ? undefined : parseOnly(opts.only);
  requireHome(ctx);
  const opened = await (await vaultOf(ctx)).openExec(target, {
    program: command[0], path: ctx.env.PATH ?? '', pristine: Boolean(opts.pristine), only,
    mask: opts.mask, withCanaries: opts.withCanaries, reason: opts.reason ?? ctx.env.LSM_REASON,
  });
  const { file, guard } = opened;
  const env = childEnv(ctx.env, new Map(opened.secrets), Boolean(opts.pristine));
  if (ctx.stderr.isTTY) ctx.stderr.write(`lsm: injected ${opened.secrets.length} secret${opened.secrets.length === 1 ? '' : 's'} from ${target.app}/${target.env}${guard.mask ? ' (masked in the output)' : ''}\n`);
  if (guard.mask) {
    // masked output, through a pseudo-terminal when stdin and stdout are terminals (src/pty.ts),
    // else pipes. A piped stdin (`psql < migration.sql`) written into a pseudo-terminal
    // would be echoed and line-edited, a \x03 in it turned into Ctrl-C: the child gets it as is.
    const [{ matcherFor }, { loadPty, runInPty, maskPipes }] = await Promise.all([import('../mask-stream.js'), import('../pty.js')]);
    // While lsm is dumpable, a child of the same user can write around the mask through
    // /proc/$PPID/fd/1, lsm's own stdout; non-dumpable, that path is closed to it. Other
    // ancestors' descriptors stay open to it: masking guards against accidents (docs/policy.md).
    await closeOwnDescriptors();
    const matcher = matcherFor(guard.mask)!;
    const pty = ctx.stdout.isTTY && isTerminal(0) ? loadPty() : undefined;
    const ran = pty && runInPty(pty, file, command, env, matcher, ctx);
    if (ran) return ran;
    const pipes = makeFifos(2);
    let child: ChildProcess;
    try {
      child = spawnChild(file, command, env, pipes ? ['inherit', pipes[0].write, pipes[1].write] : ['inherit', 'pipe', 'pipe']);
    } finally {
      closeFifos(pipes, 'write'); // the child holds its ends: lsm's reads end when it is done
    }
    const drained = maskPipes(pipes ? pipes.map((p) => new Socket({ fd: p.read, readable: true, writable: false })) : [child.stdout!, child.stderr!], matcher, ctx);
    return supervise(child, command[0], drained);
  }
  return supervise(spawnChild(file, command, env, 'inherit'), command[0]);
}

async function closeOwnDescriptors(): Promise<void> {
  try {
    const { loadPlatform } = await import('../platform.js');
    (await loadPlatform()).undumpable();
  } catch { /* no FFI for this platform: the mask still applies, the /proc path stays open */ }
}

function parseOnly(list: string): string[] {
  const names = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw usage('--only needs at least one key name', '--only API_KEY,DB_URL');
  return [...new Set(names.map(checkKey))];
}

export function childEnv(parent: NodeJS.ProcessEnv, secrets: Map<string, string>, pristine: boolean): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parent)) {
    if (v === undefined) continue;
    if (pristine && !(PRISTINE as readonly string[]).includes(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of secrets) env[k] = v;
  return env;
}

/**
 * Starts the child. The one place where the child's stdio is chosen, so that a later
 * masking layer can wrap it (pipes through a redactor instead of 'inherit').
 */
export function spawnChild(file: string, argv: string[], env: Record<string, string>, stdio: StdioOptions): ChildProcess {
  return spawn(file, argv.slice(1), { argv0: argv[0], env, stdio });
}

/** Relays signals while the child runs, then mirrors how it ended. */
function supervise(child: ChildProcess, name: string, drained?: Promise<void>): Promise<number> {
  return new Promise((resolveExit, reject) => {
    const release = relaySignals((sig) => child.kill(sig));
    child.once('error', (err) => {
      release();
      drained?.catch(() => {});
      const code = errno(err);
      reject(code === 'ENOENT' ? notFound(name) : code === 'EACCES' ? notExecutable(name) : new LsmError('exec', `cannot start ${shown(name)}: ${code ?? 'error'}`));
    });
    // 'close', not 'exit', and the masked output drained: its last bytes are shown before lsm ends.
    child.once('close', async (code, signal) => {
      release();
      await drained;
      if (signal) {
        // Die as the child died, so a shell or supervisor sees the same thing; if this
        // signal cannot kill lsm (ignored since start, like SIGPIPE in Node), 128+n.
        const n = os.signals[signal] ?? 0;
        try { process.kill(process.pid, signal); } catch { /* fall through */ }
        resolveExit(128 + n);
        return;
      }
      resolveExit(code ?? 1);
    });
  });
}
