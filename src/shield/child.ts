import { constants } from 'node:os';

/** How a process ended: its exit code, or the signal that killed it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The shield's one child: the exec stub, which becomes the command. */
export interface Child {
  pid: number;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<Exit>;
}

/** A start that failed, with the errno code (ENOENT, EACCES...). */
export class StartError extends Error {
  constructor(readonly code: string) {
    super(`cannot start: ${code}`);
  }
}

interface ProcessHandle {
  spawn(o: { file: string; args: string[]; envPairs: string[]; stdio: Array<{ type: 'fd'; fd: number }>; detached: boolean }): number;
  kill(signal: number): number;
  close(): void;
  pid: number;
  onexit: ((code: number, signal: string) => void) | undefined;
}

/**
 * Starts `file` with `argv` (argv[0] included), `env`, and `fds` as its descriptors 0, 1,
 * 2, 3... On Node this goes straight to libuv's process handle, which node:child_process
 * wraps: loading that module (and node:net and node:stream with it) cost the shield's
 * start-up more than the spawn itself (docs/benchmarks.md). Where the handle is not there
 * in the shape this code knows (Bun, another Node), node:child_process does it.
 */
export async function startChild(file: string, argv: string[], env: Record<string, string>, fds: number[]): Promise<Child> {
  const envPairs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const raw = rawProcess();
  if (raw) {
    const handle = new raw.Process();
    let done!: (exit: Exit) => void;
    const exited = new Promise<Exit>((r) => { done = r; });
    handle.onexit = (code, signal) => {
      handle.close();
      done(signal ? { code: null, signal: signal as NodeJS.Signals } : { code, signal: null });
    };
    const err = handle.spawn({ file, args: argv, envPairs, stdio: fds.map((fd) => ({ type: 'fd', fd })), detached: false });
    if (err < 0) {
      handle.close();
      throw new StartError(raw.errname(err));
    }
    return { pid: handle.pid, exited, kill: (s) => { handle.kill(constants.signals[s]); } };
  }
  const { spawn } = await import('node:child_process');
  const child = spawn(file, argv.slice(1), { argv0: argv[0], env, stdio: fds });
  return new Promise((resolve, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) => reject(new StartError(e.code ?? 'error')));
    child.once('spawn', () => resolve({
      pid: child.pid!,
      kill: (s) => { child.kill(s); },
      exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))),
    }));
  });
}

function rawProcess(): { Process: new () => ProcessHandle; errname(n: number): string } | undefined {
  const p = process as unknown as { binding?: (name: string) => Record<string, unknown>; versions: Record<string, string | undefined> };
  if (p.versions.bun || typeof p.binding !== 'function') return undefined;
  // process.binding warns under --pending-deprecation, on the agent's terminal: node:child_process then.
  if (process.execArgv.includes('--pending-deprecation') || /--pending-deprecation/.test(process.env.NODE_OPTIONS ?? '') || process.env.NODE_PENDING_DEPRECATION === '1') return undefined;
  try {
    const { Process } = p.binding('process_wrap') as { Process?: new () => ProcessHandle };
    const { errname } = p.binding('uv') as { errname?: (n: number) => string };
    if (typeof Process !== 'function' || typeof errname !== 'function') return undefined;
    if (!['spawn', 'kill', 'close'].every((m) => typeof (Process.prototype as unknown as Record<string, unknown>)[m] === 'function')) return undefined;
    return { Process, errname };
  } catch {
    return undefined;
  }
}
