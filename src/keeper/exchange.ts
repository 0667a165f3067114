import { errno } from '../errors.js';

/**
 * One request and its reply over the keeper's Unix socket: write the text, half-close,
 * read to the end. This is all a client ever does with the socket, and `lsm get` sits
 * inside `$(...)`: under Node, loading node:net (and node:stream, which it needs) costs
 * more start-up than the whole round trip to the keeper (docs/benchmarks.md), so the
 * exchange is made on libuv's pipe handle that node:net itself wraps. Where that handle
 * is not there in the shape this code knows (Bun, another Node), node:net does it.
 */
export function exchange(path: string, text: string, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const raw = rawPipe();
  let timer: NodeJS.Timeout | undefined;
  let cancel = () => {};
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cancel();
      reject(new ExchangeError('ETIMEDOUT', 'no answer in time'));
    }, timeoutMs);
  });
  const onCancel = (f: () => void) => { cancel = f; };
  const bun = (globalThis as { Bun?: BunApi }).Bun;
  const work = raw ? rawExchange(raw, path, text, maxBytes, onCancel)
    : bun ? bunExchange(bun, path, text, maxBytes, onCancel)
    : netExchange(path, text, maxBytes, onCancel);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Whether this process exchanges on libuv's pipe handle (else through node:net). */
export function onPipeHandle(): boolean {
  return rawPipe() !== undefined;
}

/** A failure of the exchange, with the errno code (ECONNREFUSED, ENOENT...) when there is one. */
export class ExchangeError extends Error {
  constructor(readonly code: string | undefined, message: string) {
    super(message);
  }
}

interface Handle {
  connect(req: object, path: string): number;
  readStart(): number;
  writeUtf8String(req: object, s: string): number;
  shutdown(req: object): number;
  close(cb?: () => void): void;
  onread: ((ab: ArrayBuffer) => void) | undefined;
}

interface Raw {
  Pipe: new (type: number) => Handle;
  PipeConnectWrap: new () => { oncomplete?: (status: number) => void };
  SOCKET: number;
  WriteWrap: new () => { handle?: Handle; oncomplete?: (status: number) => void; async?: boolean };
  ShutdownWrap: new () => { handle?: Handle; oncomplete?: (status: number) => void };
  state: Int32Array;
  kRead: number;
  kOffset: number;
  errname(n: number): string;
}

let cached: Raw | null | undefined;

function rawPipe(): Raw | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  const p = process as unknown as { binding?: (name: string) => Record<string, unknown>; versions: Record<string, string | undefined> };
  if (p.versions.bun || typeof p.binding !== 'function') return undefined;
  // process.binding is deprecated in the documentation only; with --pending-deprecation it
  // would warn on stderr, which a `$(lsm get ...)` must not: node:net then.
  if (process.execArgv.includes('--pending-deprecation') || /--pending-deprecation/.test(process.env.NODE_OPTIONS ?? '') || process.env.NODE_PENDING_DEPRECATION === '1') return undefined;
  try {
    const pipe = p.binding('pipe_wrap') as { Pipe?: Raw['Pipe']; PipeConnectWrap?: Raw['PipeConnectWrap']; constants?: { SOCKET?: number } };
    const stream = p.binding('stream_wrap') as { WriteWrap?: Raw['WriteWrap']; ShutdownWrap?: Raw['ShutdownWrap']; streamBaseState?: Int32Array; kReadBytesOrError?: number; kArrayBufferOffset?: number };
    const uv = p.binding('uv') as { errname?: (n: number) => string };
    if (typeof pipe.Pipe !== 'function' || typeof pipe.PipeConnectWrap !== 'function' || typeof pipe.constants?.SOCKET !== 'number') return undefined;
    if (typeof stream.WriteWrap !== 'function' || typeof stream.ShutdownWrap !== 'function' || !(stream.streamBaseState instanceof Int32Array)) return undefined;
    if (typeof stream.kReadBytesOrError !== 'number' || typeof stream.kArrayBufferOffset !== 'number' || typeof uv.errname !== 'function') return undefined;
    const proto = pipe.Pipe.prototype as Partial<Handle>;
    if (!['connect', 'readStart', 'writeUtf8String', 'shutdown', 'close'].every((m) => typeof (proto as Record<string, unknown>)[m] === 'function')) return undefined;
    cached = {
      Pipe: pipe.Pipe, PipeConnectWrap: pipe.PipeConnectWrap, SOCKET: pipe.constants.SOCKET,
      WriteWrap: stream.WriteWrap, ShutdownWrap: stream.ShutdownWrap, state: stream.streamBaseState,
      kRead: stream.kReadBytesOrError, kOffset: stream.kArrayBufferOffset, errname: uv.errname,
    };
  } catch {
    cached = null;
  }
  return cached ?? undefined;
}

const UV_EOF = -4095;

function rawExchange(raw: Raw, path: string, text: string, maxBytes: number, onCancel: (f: () => void) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const handle = new raw.Pipe(raw.SOCKET);
    onCancel(() => { if (!done) { done = true; handle.close(); } });
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (status: number, what: string) => {
      if (done) return;
      done = true;
      const code = raw.errname(status);
      handle.close();
      reject(new ExchangeError(code, `${what}: ${code}`));
    };
    const check = (status: number, what: string) => {
      if (status < 0) fail(status, what);
      return status >= 0;
    };
    handle.onread = (ab: ArrayBuffer) => {
      const n = raw.state[raw.kRead];
      if (done || n === 0) return;
      if (n === UV_EOF) {
        done = true;
        handle.close();
        resolve(Buffer.concat(chunks));
        return;
      }
      if (n < 0) return fail(n, 'read');
      size += n;
      if (size > maxBytes) return fail(-7 /* E2BIG */, 'reply too large');
      // The chunk is copied: libuv's buffer is reused for the next read.
      chunks.push(Buffer.from(Buffer.from(ab, raw.state[raw.kOffset], n)));
    };
    const conn = new raw.PipeConnectWrap();
    conn.oncomplete = (status: number) => {
      if (!check(status, 'connect') || !check(handle.readStart(), 'read')) return;
      const w = new raw.WriteWrap();
      w.handle = handle;
      w.oncomplete = (s: number) => { check(s, 'write'); };
      w.async = false;
      if (!check(handle.writeUtf8String(w, text), 'write')) return;
      const sd = new raw.ShutdownWrap();
      sd.handle = handle;
      sd.oncomplete = (s: number) => { check(s, 'shutdown'); };
      check(handle.shutdown(sd), 'shutdown');
    };
    check(handle.connect(conn, path), 'connect');
  });
}

interface BunSocket { write(s: string): number; end(): void; shutdown?(): void }
interface BunApi {
  connect(o: { unix: string; socket: { open(s: BunSocket): void; data(s: BunSocket, d: Uint8Array): void; close(s: BunSocket): void; error(s: BunSocket, e: Error): void } }): Promise<BunSocket>;
}

/** Bun's own socket (its node:net is a layer over it, and costs the native client's start-up). */
function bunExchange(bun: BunApi, path: string, text: string, maxBytes: number, onCancel: (f: () => void) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: ExchangeError) => {
      if (done) return;
      done = true;
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    bun.connect({
      unix: path,
      socket: {
        open(s) {
          onCancel(() => { done = true; s.end(); });
          s.write(text);
          // Half-close: the keeper reads to the end of the request, then answers.
          s.shutdown?.();
        },
        data(s, d) {
          size += d.length;
          if (size > maxBytes) {
            finish(new ExchangeError('E2BIG', 'reply too large'));
            s.end();
          } else chunks.push(Buffer.from(d));
        },
        close() { finish(); },
        error(_s, e) { finish(new ExchangeError(errno(e), e.message)); },
      },
    }).catch((e: unknown) => finish(new ExchangeError(errno(e), e instanceof Error ? e.message : String(e))));
  });
}

async function netExchange(path: string, text: string, maxBytes: number, onCancel: (f: () => void) => void): Promise<Buffer> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    onCancel(() => sock.destroy());
    const chunks: Buffer[] = [];
    let size = 0;
    sock.on('connect', () => sock.end(text));
    sock.on('data', (d: Buffer) => {
      size += d.length;
      if (size > maxBytes) sock.destroy(new ExchangeError('E2BIG', 'reply too large'));
      else chunks.push(d);
    });
    sock.on('error', (err) => reject(err instanceof ExchangeError ? err : new ExchangeError(errno(err), err.message)));
    sock.on('close', (hadError) => { if (!hadError) resolve(Buffer.concat(chunks)); });
  });
}
