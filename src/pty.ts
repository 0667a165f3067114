import { createRequire } from 'node:module';
import { join } from 'node:path';
import { constants as os } from 'node:os';
import { MaskStream, type Matcher } from './mask-stream.js';
import type { Readable } from 'node:stream';
import type { Context } from './context.js';

/**
 * Where the output of a masked `lsm exec` goes through the masker. On a terminal the
 * child runs in a pseudo-terminal (npm @lydell/node-pty, an optional dependency with
 * prebuilt binaries), so it still sees a terminal: colours, prompts, line editing and
 * window size work. Without the module, or when it cannot start the child, the child
 * gets pipes instead; so does every caller whose stdout or stdin is not a terminal.
 */

/** The part of node-pty's API used here (typed locally: the dependency is optional). */
interface Pty {
  readonly pid: number;
  onData(listener: (data: Buffer) => void): unknown;
  onExit(listener: (e: { exitCode: number; signal?: number }) => void): unknown;
  write(data: string | Buffer): void;
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
}

export interface PtyModule {
  spawn(file: string, args: string[], options: {
    name?: string; cols?: number; rows?: number; cwd?: string; env?: Record<string, string>; encoding?: string | null;
  }): Pty;
}

let loaded: PtyModule | null | undefined;

/**
 * node-pty, or undefined. Required by a computed name so that the bundler leaves it
 * out: it is a native module found next to lsm at run time, not part of the bundle.
 * Hosts without `require` (tsx, the ESM test runner) resolve it from the cwd.
 */
export function loadPty(): PtyModule | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  // Bun's tty streams are not writable (node-pty breaks on the first input), and a
  // compiled Bun binary would resolve the module from the cwd's node_modules: a project
  // directory must never get to load code into lsm. The native build uses pipes.
  if (process.versions.bun) return (loaded = null) ?? undefined;
  const name = ['@lydell', 'node-pty'].join('/');
  try {
    // Resolved beside lsm itself (the bundle's require, or the entry script), never the cwd.
    const req = typeof require === 'function' ? require : createRequire(process.argv[1] ?? join(process.cwd(), 'noop.js'));
    const mod = req(name) as PtyModule;
    loaded = typeof mod?.spawn === 'function' ? mod : null;
  } catch {
    loaded = null;
  }
  return loaded ?? undefined;
}

/**
 * Says on stderr, once the child's output is all shown, that something in it was
 * masked: a generated file full of [masked] should not be a silent surprise. A count
 * only, never a value or a name.
 */
export function tellMasked(streams: MaskStream[], ctx: Context): void {
  const values = new Set<number>();
  for (const ms of streams) for (const v of ms.values) values.add(v);
  if (values.size === 0) return;
  ctx.stderr.write(`lsm: masked ${values.size} ${values.size === 1 ? 'value' : 'values'} in the output; --no-mask to see ${values.size === 1 ? 'it' : 'them'}\n`);
}

/** After this long without output, a one-byte hold (the last byte of a prompt or escape sequence) is shown. */
export const IDLE_RELEASE_MS = 150;

/**
 * Masks a child's stdout and stderr pipes into lsm's. When lsm's reader goes away
 * (`| head`), the child's pipe is closed too, so it meets EPIPE/SIGPIPE as it would
 * have without lsm in between.
 */
export function maskPipes([out, err]: Readable[], matcher: Matcher, ctx: Context): Promise<void> {
  const pairs = [[out, ctx.stdout], [err, ctx.stderr]] as const;
  const streams = pairs.map(() => new MaskStream(matcher));
  return Promise.all(pairs.map(([src, dst], i) => new Promise<void>((resolve) => {
    const ms = streams[i];
    src.on('data', (b: Buffer) => {
      if (!dst.write(ms.push(b))) src.destroy();
    });
    src.on('end', () => dst.write(ms.end()));
    src.on('error', () => src.destroy());
    src.on('close', () => resolve());
  }))).then(() => tellMasked(streams, ctx));
}

const RELAYED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

function signalName(n: number): NodeJS.Signals | undefined {
  for (const [name, num] of Object.entries(os.signals)) if (num === n) return name as NodeJS.Signals;
  return undefined;
}

/**
 * Runs the child in a pseudo-terminal sized like lsm's, masking what it prints.
 * Returns undefined, having started nothing, when node-pty cannot start it (the
 * caller falls back to pipes); otherwise lsm's exit status, after dying of the
 * child's signal where the child died of one.
 *
 * lsm's terminal is put in raw mode so that keys, Ctrl-C included, reach the child's
 * terminal as bytes and its line discipline decides what they mean. The child is in
 * its own session, so every signal lsm receives is passed on, and SIGWINCH resizes.
 */
export function runInPty(pty: PtyModule, file: string, argv: string[], env: Record<string, string>, matcher: Matcher, ctx: Context): Promise<number> | undefined {
  const out = process.stdout;
  let term: Pty;
  try {
    term = pty.spawn(file, argv.slice(1), {
      name: env.TERM || 'xterm-256color',
      cols: out.columns || 80,
      rows: out.rows || 24,
      cwd: process.cwd(),
      env,
      encoding: null,
    });
  } catch {
    return undefined;
  }
  const ms = new MaskStream(matcher);
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  const onInput = (b: Buffer) => term.write(b);
  // End of a non-terminal stdin: an EOF character on the child's terminal.
  const onEnd = () => term.write('\x04');
  stdin.on('data', onInput);
  if (!raw) stdin.once('end', onEnd);
  stdin.resume();

  let idle: NodeJS.Timeout | undefined;
  term.onData((b: Buffer) => {
    ctx.stdout.write(ms.push(b));
    if (idle) clearTimeout(idle);
    idle = ms.held === 1 ? setTimeout(() => ctx.stdout.write(ms.releaseIdle(1)), IDLE_RELEASE_MS) : undefined;
  });
  const onWinch = () => {
    try { term.resize(out.columns || 80, out.rows || 24); } catch { /* the child is gone */ }
  };
  process.on('SIGWINCH', onWinch);
  const handlers = RELAYED.map((sig) => {
    const h = () => {
      try { term.kill(sig); } catch { /* already gone */ }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });

  return new Promise((resolveExit) => {
    term.onExit(({ exitCode, signal }) => {
      if (idle) clearTimeout(idle);
      ctx.stdout.write(ms.end());
      process.off('SIGWINCH', onWinch);
      for (const [sig, h] of handlers) process.off(sig, h);
      stdin.off('data', onInput);
      stdin.off('end', onEnd);
      if (raw) stdin.setRawMode(false);
      tellMasked([ms], ctx);
      stdin.pause();
      stdin.unref?.();
      const name = signal ? signalName(signal) : undefined;
      if (name) {
        // Die as the child died, as plain exec does; 128+n if this signal cannot kill lsm.
        try { process.kill(process.pid, name); } catch { /* fall through */ }
        resolveExit(128 + (signal ?? 0));
        return;
      }
      resolveExit(exitCode);
    });
  });
}
