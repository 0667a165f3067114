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
 * Before the reply the keeper may send progress lines, `{"progress": {...}}`, each one
 * line: today only while an approval is asked (`{approval: {request, channel, wait_ms}}`),
 * which tells the client what to print and how much longer to wait.
 */
export type Reply =
  | { ok: true; result: unknown; stderr?: string }
  | { ok: false; error: WireError; stderr?: string };

export function socketPath(home: { dir: string }): string {
  return join(home.dir, 'keeper.sock');
}
