import { uvPipe, UV_EOF, type PipeHandle, type UvPipe } from './uv-pipe.js';

/**
 * The keeper's side of its socket: accept a connection, take the request once the client
 * has half-closed, answer with one write and close. Under Node this is done on libuv's
 * pipe handle (src/keeper/uv-pipe.ts); elsewhere (the native executable's Bun) node:net.
 */
export interface Connection {
  /** The accepted descriptor, for the kernel's peer credentials (-1 when unknown). */
  readonly fd: number;
  /** Called once: the request, or undefined when it was over the limit or the read failed (the connection is then closed). */
  onRequest(cb: (req: Buffer | undefined) => void): void;
  /** Writes the reply, half-closes and closes. */
  reply(text: string): void;
  destroy(): void;
  readonly destroyed: boolean;
}

export interface Listener {
  /** Stops accepting. */
  close(): void;
}

export class ListenError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** Binds `path` (the caller sets the umask) and hands each connection to `onConnection`, synchronously. */
export function listen(path: string, maxBytes: number, onConnection: (c: Connection) => void): Promise<Listener> {
  const raw = uvPipe();
  if (!raw) return netListen(path, maxBytes, onConnection);
  try {
    return Promise.resolve(rawListen(raw, path, maxBytes, onConnection));
  } catch (err) {
    return Promise.reject(err);
  }
}

function rawListen(raw: UvPipe, path: string, maxBytes: number, onConnection: (c: Connection) => void): Listener {
  const server = new raw.Pipe(raw.SERVER);
  const fail = (status: number, what: string) => {
    server.close();
    const code = raw.errname(status);
    return new ListenError(code, `${what} ${path}: ${code}`);
  };
  let status = server.bind(path);
  if (status < 0) throw fail(status, 'cannot bind');
  server.onconnection = (st, client) => {
    if (st < 0 || !client) return;
    onConnection(rawConnection(raw, client, maxBytes));
  };
  status = server.listen(511);
  if (status < 0) throw fail(status, 'cannot listen on');
  return { close: () => server.close() };
}

/** Write requests in flight, kept reachable until libuv is done with them. */
const inFlight = new Set<object>();

function rawConnection(raw: UvPipe, h: PipeHandle, maxBytes: number): Connection {
  let destroyed = false;
  let answered = false;
  const chunks: Buffer[] = [];
  let size = 0;
  let deliver: ((req: Buffer | undefined) => void) | undefined;
  let got: { req: Buffer | undefined } | undefined;
  const close = () => {
    if (destroyed) return;
    destroyed = true;
    h.close();
  };
  const settle = (req: Buffer | undefined) => {
    if (got) return;
    got = { req };
    deliver?.(req);
  };
  h.onread = (ab: ArrayBuffer) => {
    const n = raw.state[raw.kRead];
    if (got || n === 0) return;
    if (n === UV_EOF) return settle(Buffer.concat(chunks));
    if (n < 0) {
      close();
      return settle(undefined);
    }
    size += n;
    if (size > maxBytes) {
      close();
      return settle(undefined);
    }
    // Copied: libuv's buffer is reused for the next read.
    chunks.push(Buffer.from(Buffer.from(ab, raw.state[raw.kOffset], n)));
  };
  if (h.readStart() < 0) {
    close();
    settle(undefined);
  }
  return {
    fd: typeof h.fd === 'number' ? h.fd : -1,
    onRequest(cb) {
      deliver = cb;
      if (got) cb(got.req);
    },
    reply(text) {
      if (destroyed || answered) return;
      answered = true;
      const w = new raw.WriteWrap();
      w.handle = h;
      w.async = false;
      inFlight.add(w);
      w.oncomplete = (s: number) => {
        inFlight.delete(w);
        if (s < 0) close();
      };
      if (h.writeUtf8String(w, text) < 0) {
        inFlight.delete(w);
        return close();
      }
      if (!w.async) inFlight.delete(w);
      // The shutdown completes once the write has: then the descriptor is closed.
      const sd = new raw.ShutdownWrap();
      sd.handle = h;
      inFlight.add(sd);
      sd.oncomplete = () => {
        inFlight.delete(sd);
        close();
      };
      if (h.shutdown(sd) < 0) {
        inFlight.delete(sd);
        close();
      }
    },
    destroy: close,
    get destroyed() {
      return destroyed;
    },
  };
}

async function netListen(path: string, maxBytes: number, onConnection: (c: Connection) => void): Promise<Listener> {
  const { createServer } = await import('node:net');
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let deliver: ((req: Buffer | undefined) => void) | undefined;
    let got: { req: Buffer | undefined } | undefined;
    const settle = (req: Buffer | undefined) => {
      if (got) return;
      got = { req };
      deliver?.(req);
    };
    sock.on('data', (d: Buffer) => {
      size += d.length;
      if (size > maxBytes) {
        sock.destroy();
        settle(undefined);
      } else chunks.push(d);
    });
    sock.on('error', () => settle(undefined));
    sock.on('end', () => settle(Buffer.concat(chunks)));
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    onConnection({
      fd: typeof fd === 'number' ? fd : -1,
      onRequest(cb) {
        deliver = cb;
        if (got) cb(got.req);
      },
      reply(text) {
        if (!sock.destroyed) sock.end(text);
      },
      destroy: () => sock.destroy(),
      get destroyed() {
        return sock.destroyed;
      },
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: Error & { code?: string }) => reject(new ListenError(err.code ?? 'EIO', `cannot listen on ${path}: ${err.message}`)));
    server.listen(path, () => resolve());
  });
  return { close: () => server.close() };
}
