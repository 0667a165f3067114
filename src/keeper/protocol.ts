import { join } from 'node:path';

/**
 * The keeper's wire format: one JSON request per connection, one JSON reply, each a
 * single line. One request per connection keeps the peer check simple: the kernel's
 * credentials of the socket are the credentials of the one request on it.
 */
export const PROTOCOL = 1;
/** A request carries at most one store's text (import, edit): bounded so a client cannot exhaust the keeper. */
export const MAX_MESSAGE = 16 * 1024 * 1024;

export interface Request {
  v: number;
  op: string;
  args?: unknown;
  /** What the client's own terminal looks like: it decides only how output is shaped, never the actor. */
  tty?: { stdout: boolean; stderr: boolean };
  /** The project file that chose the store, as the client resolved it: recorded as it says. */
  project?: { file: string; chose: Array<'app' | 'env'> };
}

export interface WireError {
  code: string;
  message: string;
  hint?: string;
  exit: number;
}

/**
 * A request the policy says to ask about is answered at once with `pending` (and an
 * error an older client can show): the client prints what it waits for, then sends
 * `approval.await` with the ticket on a new connection, which the keeper answers when
 * the user has. Each connection still carries one request and one reply line.
 */
export interface Pending {
  request: string;
  channel: string;
  wait_ms: number;
  ticket: string;
}

export type Reply =
  | { ok: true; result: unknown; stderr?: string }
  | { ok: false; error: WireError; stderr?: string; pending?: Pending };

export function socketPath(home: { dir: string }): string {
  return join(home.dir, 'keeper.sock');
}
