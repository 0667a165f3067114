import { lstatSync } from 'node:fs';
import { connect } from 'node:net';
import { EXIT, LsmError, errno, type ErrorCode } from '../errors.js';
import { MAX_MESSAGE, PROTOCOL, socketPath, type Reply, type Request } from './protocol.js';
import type { Context } from '../context.js';
import type { Vault } from '../vault.js';

/**
 * The client side of a protected home: every operation on secrets is one request to
 * the keeper, which decides, decrypts and records. The client loads no crypto, reads
 * no key and takes no lock; what it says about itself decides nothing.
 */
export function keeperVault(ctx: Context): Vault {
  const ask = async <T>(op: string, args: unknown): Promise<T> => {
    try {
      return await callKeeper<T>(ctx, op, args);
    } catch (err) {
      if (!(err instanceof LsmError && err.code === 'keeper_locked' && await offerUnlock(ctx))) throw err;
      return callKeeper<T>(ctx, op, args);
    }
  };
  return {
    get: (target, key, reason) => ask('get', { target, key, reason }),
    list: (target) => ask('list', { target }),
    set: (target, key, value, source) => ask('set', { target, key, value, source }),
    delete: (target, key) => ask('delete', { target, key }),
    openExec: (target, req) => ask('exec', { target, req }),
    reveal: (target, req) => ask('reveal', { target, req }),
    importText: (target, req) => ask('import', { target, req }),
    canary: (target, req) => ask('canary', { target, req }),
  };
}

export function lockedError(home: { dir: string }, why: string): LsmError {
  return new LsmError('keeper_locked', `the lsm home ${home.dir} is protected and locked (${why}); nothing was decrypted`, {
    exit: EXIT.locked,
    hint: "the user unlocks it with 'lsm unlock' at a terminal (an agent: ask the user to run it)",
  });
}

/**
 * The socket must be the user's own, in the home: a socket of another user, or one a
 * group could reach, is not this user's keeper. (A process of the same user can still
 * put its own server there; docs/keeper.md says what that buys it.)
 */
function checkSocket(path: string, home: { dir: string }): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') throw lockedError(home, 'no keeper is running');
    throw new LsmError('io', `cannot reach the keeper at ${path}: ${errno(err) ?? 'error'}`);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (!st.isSocket() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new LsmError('io', `${path} is not this user's keeper socket (a ${st.isSocket() ? 'socket' : 'file'} of uid ${st.uid}, mode 0${(st.mode & 0o777).toString(8)}); refusing to talk to it`, {
      hint: "stop whatever made it, remove it, and run 'lsm unlock'",
    });
  }
}

export function sendRequest(home: { dir: string }, req: Request, timeoutMs = 120_000): Promise<Reply> {
  const path = socketPath(home);
  checkSocket(path, home);
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new LsmError('keeper_locked', `the keeper did not answer within ${Math.round(timeoutMs / 1000)} s`, { exit: EXIT.locked, hint: "'lsm keeper status' shows it; 'lsm keeper stop' and 'lsm unlock' restart it" }));
    }, timeoutMs);
    sock.on('connect', () => sock.end(`${JSON.stringify(req)}\n`));
    sock.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_MESSAGE) sock.destroy(new Error('reply too large'));
      else chunks.push(d);
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      const code = errno(err);
      reject(code === 'ECONNREFUSED' || code === 'ENOENT'
        ? lockedError(home, 'no keeper is running')
        : new LsmError('io', `cannot talk to the keeper: ${code ?? err.message}`));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(JSON.parse(text) as Reply);
      } catch {
        reject(new LsmError('io', 'the keeper closed the connection without an answer', { hint: "'lsm keeper status' shows whether it runs" }));
      }
    });
  });
}

export async function callKeeper<T>(ctx: Context, op: string, args: unknown): Promise<T> {
  const tty = { stdout: ctx.stdout.isTTY, stderr: ctx.stderr.isTTY };
  let reply = await sendRequest(ctx.home, { v: PROTOCOL, op, args, tty, project: ctx.project });
  if (reply.stderr) ctx.stderr.write(reply.stderr);
  const pending = reply.ok ? undefined : reply.pending;
  if (pending) {
    // The keeper asks the user (src/keeper/approval.ts); this process waits for the answer.
    const safe = (v: unknown) => String(v ?? '').replace(/[^\w ./:-]/g, '?').slice(0, 80);
    ctx.stderr.write(`lsm: waiting for approval (request ${safe(pending.request)}) on ${safe(pending.channel)}...\n`);
    const wait = Math.min(Math.max(Number(pending.wait_ms) || 0, 0), 600_000);
    reply = await sendRequest(ctx.home, { v: PROTOCOL, op: 'approval.await', args: { ticket: pending.ticket }, tty }, wait + 120_000);
    if (reply.stderr) ctx.stderr.write(reply.stderr);
  }
  if (!reply.ok) {
    const e = reply.error;
    throw new LsmError(e.code as ErrorCode, e.message, { hint: e.hint, exit: e.exit });
  }
  return reply.result as T;
}

/**
 * A person at a terminal is offered the unlock prompt inline; anyone else gets the
 * locked error. What the environment says decides only whether to offer: the
 * passphrase is what unlocks, and the keeper classifies the caller itself.
 */
async function offerUnlock(ctx: Context): Promise<boolean> {
  if (!ctx.stdin.isTTY || !ctx.stderr.isTTY) return false;
  const { markerFromEnv } = await import('../audit/agents.js');
  if (markerFromEnv(ctx.env, true).agent) return false;
  ctx.stderr.write(`lsm: ${ctx.home.dir} is protected and locked.\n`);
  const { unlock, IDLE_DEFAULT, TTL_DEFAULT } = await import('./unlock.js');
  const { parseDuration } = await import('../audit/query.js');
  await unlock(ctx, { ttlMs: parseDuration(TTL_DEFAULT)!, idleMs: parseDuration(IDLE_DEFAULT)! });
  return true;
}
