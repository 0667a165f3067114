import { spawn } from 'node:child_process';
import { EXIT, LsmError, type ErrorCode } from '../errors.js';
import { selfCommand } from '../self.js';
import type { Home } from '../home.js';

/**
 * Starts a keeper for `home` and hands it the passphrase on a pipe that only it reads:
 * never over the socket, never in argv or the environment. It runs detached (its own
 * session, no tie to the caller's terminal) with an environment made here, not
 * inherited: a NODE_OPTIONS or LD_PRELOAD of the caller's would run code inside it.
 * Resolves with its pid once it holds the key and serves the socket.
 */
export async function startKeeper(home: Home, passphrase: string, opts: { ttlMs: number; idleMs: number; acknowledge?: boolean; channel?: object }): Promise<{ pid: number; seal?: string; applied: string[] }> {
  const { pid, seal, applied } = await launchKeeper(home, passphrase, opts);
  return { pid, seal, applied };
}

/**
 * As startKeeper; with `rotate` the keeper first rotates the home's key (src/keeper/ops-rotate.ts)
 * and says what it did on the same pipe, as `report` (JSON).
 */
export async function launchKeeper(home: Home, passphrase: string, opts: { ttlMs: number; idleMs: number; acknowledge?: boolean; rotate?: boolean; channel?: object }): Promise<{ pid: number; seal?: string; applied: string[]; report?: unknown }> {
  const args = ['__keeper', '--dir', home.dir, '--ttl', String(opts.ttlMs), '--idle', String(opts.idleMs)];
  if (opts.acknowledge) args.push('--acknowledge');
  if (opts.rotate) args.push('--rotate');
  // Where approvals are asked: the terminal and display of whoever gave the passphrase.
  if (opts.channel && Object.keys(opts.channel).length > 0) args.push('--channel', JSON.stringify(opts.channel));
  const [cmd, argv] = selfCommand(args);
  const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
  if (process.env.HOME) env.HOME = process.env.HOME;
  const child = spawn(cmd, argv, { detached: true, stdio: ['pipe', 'pipe', 'ignore'], env, cwd: home.dir });
  return new Promise((resolve, reject) => {
    let out = '';
    // A rotation rewrites every store first; killed, its journal lets the next run finish it.
    const limit = opts.rotate ? 600 : 60;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new LsmError('internal', `the keeper did not start within ${limit} s`));
    }, limit * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new LsmError('internal', `cannot start the keeper: ${err.message}`));
    });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => { out += d; });
    child.stdout!.on('end', () => {
      clearTimeout(timer);
      const line = out.split('\n')[0] ?? '';
      if (line.startsWith('ok ')) {
        child.unref();
        // `ok PID {seal, report}`: the seal its approval prompts show, told only to the one who unlocked; what a rotation did.
        const [pid, ...rest] = line.slice(3).split(' ');
        let said: { seal?: unknown; applied?: unknown; report?: unknown } = {};
        try {
          said = rest.length > 0 ? JSON.parse(rest.join(' ')) : {};
        } catch { /* a keeper of another version */ }
        const applied = Array.isArray(said.applied) ? said.applied.filter((a): a is string => typeof a === 'string') : [];
        resolve({ pid: Number(pid), seal: typeof said.seal === 'string' ? said.seal : undefined, applied, report: said.report });
        return;
      }
      if (line.startsWith('error ')) {
        try {
          const e = JSON.parse(line.slice(6)) as { code: ErrorCode; message: string; hint?: string; exit: number };
          reject(new LsmError(e.code, e.message, { hint: e.hint, exit: e.exit }));
          return;
        } catch { /* below */ }
      }
      reject(new LsmError('internal', 'the keeper exited without starting', { exit: EXIT.failure }));
    });
    child.stdin!.on('error', () => { /* it died first: reported above */ });
    child.stdin!.end(`${passphrase}\n`);
  });
}
