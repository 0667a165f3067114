import { errno } from '../errors.js';
import { uvPipe, UV_EOF, type UvPipe } from './uv-pipe.js';

/**
 * One request and its reply over the keeper's Unix socket: write the text, half-close,
 * read to the end. This is all a client ever does with the socket, and `lsm get` sits
 * inside `$(...)`: under Node, loading node:net (and node:stream, which it needs) costs
 * more start-up than the whole round trip to the keeper (docs/benchmarks.md), so the
 * exchange is made on libuv's pipe handle that node:net itself wraps. Where that handle
 * is not there in the shape this code knows (Bun, another Node), node:net does it.
 */
export function exchange(path: string, text: string, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  return open(path).send(text, maxBytes, timeoutMs);
}

/** A connection opened before its one request is ready to send; send() may be called once. */
export interface Connection {
  /** line: the reply is one line, whole at its newline (a JSON line cannot hold another). */
  send(text: string, maxBytes: number, timeoutMs: number, opts?: { line?: boolean }): Promise<Buffer>;
  /** Closes a connection that will not be used (the keeper sees an empty request). */
  close(): void;
}

/**
 * Connects now and sends later: the keeper reads the caller's /proc when it accepts, so a
 * client that connects first and then builds its request has the keeper's part of the
 * work done alongside its own. A failure to connect is reported by send().
 */
export function open(path: string): Connection {
  const raw = uvPipe();
  const bun = (globalThis as { Bun?: BunApi }).Bun;
  const link = raw ? rawLink(raw, path) : bun ? bunLink(bun, path) : netLink(path);
  let used = false;
  return {
    send(text, maxBytes, timeoutMs, opts = {}) {
      if (used) return Promise.reject(new ExchangeError(undefined, 'a connection carries one request'));
      used = true;
      let settled = false;
      let expire: (err: ExchangeError) => void = () => {};
      const timeout = new Promise<never>((_, reject) => { expire = reject; });
      // The clock starts once the request is written, while the keeper works on it: a
      // timer's first use costs a `$(lsm get)` a third of a millisecond. It is unref'd
      // and never cleared (clearing costs a tenth more); the connection's handle keeps
      // the process alive while the answer is awaited, and a timer that fires after the
      // answer does nothing.
      const started = () => {
        setTimeout(() => {
          if (settled) return;
          link.close();
          expire(new ExchangeError('ETIMEDOUT', 'no answer in time'));
        }, timeoutMs).unref();
      };
      return Promise.race([link.send(text, maxBytes, opts.line === true, started), timeout]).finally(() => { settled = true; });
    },
    close() {
      used = true;
      link.close();
    },
  };
}

/** The transport under a Connection: each of the three below keeps what arrives until send() asks for it. */
interface Link {
  /** written: called once the request has been handed to the socket. */
  send(text: string, maxBytes: number, line: boolean, written: () => void): Promise<Buffer>;
  close(): void;
}

/** What came back on a connection, up to maxBytes; it settles once. */
class Inbox {
  private chunks: Buffer[] = [];
  private size = 0;
  done = false;
  maxBytes = Infinity;
  /** The reply is one line: complete at its newline, without waiting for the end of the stream. */
  line = false;
  private settle: ((r: { ok: Buffer } | { err: ExchangeError }) => void) | undefined;
  private result: { ok: Buffer } | { err: ExchangeError } | undefined;

  /** false: nothing more is wanted (the reply is whole, or over the limit): the caller closes. */
  add(b: Buffer): boolean {
    this.size += b.length;
    if (this.size > this.maxBytes) {
      this.fail(new ExchangeError('E2BIG', 'reply too large'));
      return false;
    }
    this.chunks.push(b);
    if (this.line && b.includes(10)) {
      this.end();
      return false;
    }
    return true;
  }

  end(): void {
    this.finish({ ok: Buffer.concat(this.chunks) });
  }

  fail(err: ExchangeError): void {
    this.finish({ err });
  }

  private finish(r: { ok: Buffer } | { err: ExchangeError }): void {
    if (this.done) return;
    this.done = true;
    this.result = r;
    this.settle?.(r);
  }

  wait(maxBytes: number, line: boolean): Promise<Buffer> {
    this.maxBytes = maxBytes;
    this.line = line;
    if (this.size > maxBytes) this.fail(new ExchangeError('E2BIG', 'reply too large'));
    else if (line && this.chunks.some((c) => c.includes(10))) this.end();
    return new Promise((resolve, reject) => {
      const take = (r: { ok: Buffer } | { err: ExchangeError }) => ('ok' in r ? resolve(r.ok) : reject(r.err));
      if (this.result) take(this.result);
      else this.settle = take;
    });
  }
}

/** Whether this process exchanges on libuv's pipe handle (else through node:net). */
export function onPipeHandle(): boolean {
  return uvPipe() !== undefined;
}

/** A failure of the exchange, with the errno code (ECONNREFUSED, ENOENT...) when there is one. */
export class ExchangeError extends Error {
  constructor(readonly code: string | undefined, message: string) {
    super(message);
  }
}


function rawLink(raw: UvPipe, path: string): Link {
  const handle = new raw.Pipe(raw.SOCKET);
  const inbox = new Inbox();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    handle.close();
  };
  const fail = (status: number, what: string) => {
    if (inbox.done) return;
    const code = raw.errname(status);
    close();
    inbox.fail(new ExchangeError(code, `${what}: ${code}`));
  };
  const check = (status: number, what: string) => {
    if (status < 0) fail(status, what);
    return status >= 0;
  };
  handle.onread = (ab: ArrayBuffer) => {
    const n = raw.state[raw.kRead];
    if (inbox.done || n === 0) return;
    if (n === UV_EOF) {
      close();
      inbox.end();
      return;
    }
    if (n < 0) return fail(n, 'read');
    // The chunk is copied: libuv's buffer is reused for the next read.
    if (!inbox.add(Buffer.from(Buffer.from(ab, raw.state[raw.kOffset], n)))) close();
  };
  let connected = false;
  let queued: string | undefined;
  let written = () => {};
  const write = (text: string) => {
    if (!check(handle.readStart(), 'read')) return;
    const w = new raw.WriteWrap();
    w.handle = handle;
    w.oncomplete = (s: number) => { check(s, 'write'); };
    w.async = false;
    if (!check(handle.writeUtf8String(w, text), 'write')) return;
    const sd = new raw.ShutdownWrap();
    sd.handle = handle;
    sd.oncomplete = (s: number) => { check(s, 'shutdown'); };
    check(handle.shutdown(sd), 'shutdown');
    written();
  };
  const conn = new raw.PipeConnectWrap();
  conn.oncomplete = (status: number) => {
    if (!check(status, 'connect')) return;
    connected = true;
    if (queued !== undefined) write(queued);
  };
  check(handle.connect(conn, path), 'connect');
  return {
    send(text, maxBytes, line, onWritten) {
      const reply = inbox.wait(maxBytes, line);
      written = onWritten;
      if (connected) write(text);
      else queued = text;
      return reply;
    },
    close,
  };
}

interface BunSocket { write(s: string): number; end(): void; shutdown?(): void }
interface BunApi {
  connect(o: { unix: string; socket: { open(s: BunSocket): void; data(s: BunSocket, d: Uint8Array): void; close(s: BunSocket): void; error(s: BunSocket, e: Error): void } }): Promise<BunSocket>;
}

/** Bun's own socket (its node:net is a layer over it, and costs the native client's start-up). */
function bunLink(bun: BunApi, path: string): Link {
  const inbox = new Inbox();
  let sock: BunSocket | undefined;
  let queued: string | undefined;
  let closed = false;
  const write = (s: BunSocket, text: string) => {
    s.write(text);
    // Half-close: the keeper reads to the end of the request, then answers.
    s.shutdown?.();
  };
  bun.connect({
    unix: path,
    socket: {
      open(s) {
        sock = s;
        if (closed) s.end();
        else if (queued !== undefined) write(s, queued);
      },
      data(s, d) {
        if (!inbox.add(Buffer.from(d))) s.end();
      },
      close() { inbox.end(); },
      error(_s, e) { inbox.fail(new ExchangeError(errno(e), e.message)); },
    },
  }).catch((e: unknown) => inbox.fail(new ExchangeError(errno(e), e instanceof Error ? e.message : String(e))));
  return {
    send(text, maxBytes, line, written) {
      const reply = inbox.wait(maxBytes, line);
      if (sock) write(sock, text);
      else queued = text;
      written();
      return reply;
    },
    close() {
      closed = true;
      sock?.end();
    },
  };
}

function netLink(path: string): Link {
  const inbox = new Inbox();
  let sock: import('node:net').Socket | undefined;
  let connected = false;
  let queued: string | undefined;
  let closed = false;
  void import('node:net').then(({ connect }) => {
    if (closed) return;
    const s = connect(path);
    sock = s;
    s.on('connect', () => {
      connected = true;
      if (queued !== undefined) s.end(queued);
    });
    s.on('data', (d: Buffer) => {
      if (!inbox.add(d)) s.destroy();
    });
    s.on('error', (err) => inbox.fail(new ExchangeError(errno(err), err.message)));
    s.on('close', (hadError) => { if (!hadError) inbox.end(); });
  });
  return {
    send(text, maxBytes, line, written) {
      const reply = inbox.wait(maxBytes, line);
      if (sock && connected) sock.end(text);
      else queued = text;
      written();
      return reply;
    },
    close() {
      closed = true;
      sock?.destroy();
    },
  };
}
