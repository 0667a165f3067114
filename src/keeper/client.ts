import { lstatSync } from 'node:fs';
import { EXIT, LsmError, errno, type ErrorCode } from '../errors.js';
import { open, ExchangeError, type Connection } from './exchange.js';
import { MAX_MESSAGE, PROTOCOL, socketPath, type Reply, type Request } from './protocol.js';
import type { Context } from '../context.js';

/** Talking to the keeper of a protected home: one request per connection, one reply. */
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

/** A connection made ahead of its request (preconnect), for the socket it was made to. */
let early: { path: string; conn: Connection } | undefined;

/**
 * Connects to the home's keeper now, for the next request to use: the keeper reads the
 * caller's /proc as it accepts, while this process is still building its request (the
 * plain `lsm get` calls it first thing). Nothing is sent until sendRequest has checked
 * the socket, so a failure here, or a socket that is not the keeper's, is reported there.
 */
export function preconnect(home: { dir: string }): void {
  const path = socketPath(home);
  early?.conn.close();
  early = { path, conn: open(path) };
}

export async function sendRequest(home: { dir: string }, req: Request, timeoutMs = 120_000): Promise<Reply> {
  const path = socketPath(home);
  checkSocket(path, home);
  const conn = early?.path === path ? early.conn : open(path);
  if (early?.path === path) early = undefined;
  let text: string;
  try {
    text = (await conn.send(`${JSON.stringify(req)}\n`, MAX_MESSAGE, timeoutMs, { line: true })).toString('utf8');
  } catch (err) {
    const code = err instanceof ExchangeError ? err.code : errno(err);
    if (code === 'ETIMEDOUT') {
      throw new LsmError('keeper_locked', `the keeper did not answer within ${Math.round(timeoutMs / 1000)} s`, { exit: EXIT.locked, hint: "'lsm keeper status' shows it; 'lsm keeper stop' and 'lsm unlock' restart it" });
    }
    if (code === 'ECONNREFUSED' || code === 'ENOENT') throw lockedError(home, 'no keeper is running');
    throw new LsmError('io', `cannot talk to the keeper: ${code ?? (err instanceof Error ? err.message : String(err))}`);
  }
  try {
    return JSON.parse(text) as Reply;
  } catch {
    throw new LsmError('io', 'the keeper closed the connection without an answer', { hint: "'lsm keeper status' shows whether it runs" });
  }
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
