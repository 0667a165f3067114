/**
 * The worker thread that becomes the shield. no_new_privs and a Landlock domain belong
 * to a thread, not a process, and a child inherits those of the thread that forked it:
 * so this thread restricts itself and spawns the command, while the main thread of
 * `lsm shield` stays outside the domain. Landlock's scopes then keep the command from
 * signalling or tracing that process (the subreaper that holds every descendant), which
 * it could if the whole process were inside.
 *
 * Evaluated as a string (the bundles run under the launcher's vm.Script, which a
 * Worker cannot load by file name): it requires nothing but Node's own modules and the
 * FFI named in workerData.
 */
export interface ThreadData {
  ffi: 'koffi' | 'bun:ffi';
  koffi?: string;
}

/** Posted to the thread once the ruleset is built: it is started first, to load its FFI meanwhile. */
export interface ThreadGo {
  ruleset: number;
  file: string;
  argv: string[];
  env: Record<string, string>;
}

export type ThreadMessage =
  | { type: 'restricted'; ok: boolean; step?: string }
  | { type: 'spawned'; pid: number }
  | { type: 'error'; code: string }
  | { type: 'exit'; code: number | null; signal: NodeJS.Signals | null };

export const THREAD_CODE = `
const { parentPort, workerData: d } = require('node:worker_threads');
const { spawn } = require('node:child_process');
let prctl, syscall;
if (d.ffi === 'koffi') {
  const k = require(d.koffi);
  const lib = k.load('libc.so.6');
  const p = lib.func('int prctl(int option, ...)');
  const s = lib.func('long syscall(long nr, ...)');
  const UL = 'unsigned long';
  prctl = (o, a) => p(o, UL, a, UL, 0, UL, 0, UL, 0);
  syscall = (nr, a, b) => Number(s(nr, UL, a, UL, b));
} else {
  const ffi = require('bun:ffi');
  const { symbols: c } = ffi.dlopen('libc.so.6', {
    prctl: { args: ['i32', 'u64', 'u64', 'u64', 'u64'], returns: 'i32' },
    syscall: { args: ['i64', 'u64', 'u64'], returns: 'i64' },
  });
  prctl = (o, a) => c.prctl(o, a, 0, 0, 0);
  syscall = (nr, a, b) => Number(c.syscall(nr, a, b));
}
parentPort.once('message', (g) => {
// PR_SET_NO_NEW_PRIVS (38), then landlock_restrict_self (446) with no flags.
if (prctl(38, 1) !== 0) {
  parentPort.postMessage({ type: 'restricted', ok: false, step: 'no_new_privs' });
} else if (syscall(446, g.ruleset, 0) !== 0) {
  parentPort.postMessage({ type: 'restricted', ok: false, step: 'landlock_restrict_self' });
} else {
  parentPort.postMessage({ type: 'restricted', ok: true });
  const child = spawn(g.file, g.argv.slice(1), { argv0: g.argv[0], env: g.env, stdio: [0, 1, 2] });
  child.once('spawn', () => parentPort.postMessage({ type: 'spawned', pid: child.pid }));
  child.once('error', (e) => parentPort.postMessage({ type: 'error', code: e.code || String(e.message) }));
  child.once('exit', (code, signal) => parentPort.postMessage({ type: 'exit', code, signal }));
}
});
`;
