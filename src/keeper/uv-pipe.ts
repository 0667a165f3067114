/**
 * libuv's pipe handle, the one node:net wraps, reached without node:net. The keeper's
 * client sits inside `$(...)`, and loading node:net (with node:stream) costs more than its
 * whole exchange with the keeper; the keeper answers one short request per connection,
 * and node:net's stream machinery around each is a fifth of its reply time
 * (docs/keeper.md). process.binding is deprecated in the documentation only, and these
 * handles are an internal API: each use checks the shape it needs, and where it is not
 * there (Bun, another Node) the caller uses node:net.
 */
export interface PipeHandle {
  fd: number;
  connect(req: object, path: string): number;
  bind(path: string): number;
  listen(backlog: number): number;
  readStart(): number;
  writeUtf8String(req: object, s: string): number;
  shutdown(req: object): number;
  close(cb?: () => void): void;
  onread: ((ab: ArrayBuffer) => void) | undefined;
  onconnection: ((status: number, client: PipeHandle | undefined) => void) | undefined;
}

export interface UvPipe {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => { oncomplete?: (status: number) => void };
  SOCKET: number;
  SERVER: number;
  WriteWrap: new () => { handle?: PipeHandle; oncomplete?: (status: number) => void; async?: boolean };
  ShutdownWrap: new () => { handle?: PipeHandle; oncomplete?: (status: number) => void };
  /** Where a read callback finds its byte count (or error) and its offset in the ArrayBuffer. */
  state: Int32Array;
  kRead: number;
  kOffset: number;
  errname(n: number): string;
}

/** The read callback's count at the end of the stream. */
export const UV_EOF = -4095;

type Binding = (name: string) => Record<string, unknown>;
let cached: UvPipe | null | undefined;

export function uvPipe(): UvPipe | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  const p = process as unknown as { binding?: Binding; versions: Record<string, string | undefined> };
  if (p.versions.bun || typeof p.binding !== 'function') return undefined;
  // With --pending-deprecation process.binding would warn on stderr, which a `$(lsm get ...)` must not.
  if (process.execArgv.includes('--pending-deprecation') || /--pending-deprecation/.test(process.env.NODE_OPTIONS ?? '') || process.env.NODE_PENDING_DEPRECATION === '1') return undefined;
  const binding = p.binding.bind(process) as Binding;
  try {
    const pipe = binding('pipe_wrap') as { Pipe?: UvPipe['Pipe']; PipeConnectWrap?: UvPipe['PipeConnectWrap']; constants?: { SOCKET?: number; SERVER?: number } };
    const stream = binding('stream_wrap') as { WriteWrap?: UvPipe['WriteWrap']; ShutdownWrap?: UvPipe['ShutdownWrap']; streamBaseState?: Int32Array; kReadBytesOrError?: number; kArrayBufferOffset?: number };
    if (typeof pipe.Pipe !== 'function' || typeof pipe.PipeConnectWrap !== 'function' || typeof pipe.constants?.SOCKET !== 'number' || typeof pipe.constants.SERVER !== 'number') return undefined;
    if (typeof stream.WriteWrap !== 'function' || typeof stream.ShutdownWrap !== 'function' || !(stream.streamBaseState instanceof Int32Array)) return undefined;
    if (typeof stream.kReadBytesOrError !== 'number' || typeof stream.kArrayBufferOffset !== 'number') return undefined;
    const proto = pipe.Pipe.prototype as unknown as Record<string, unknown>;
    if (!['connect', 'bind', 'listen', 'readStart', 'writeUtf8String', 'shutdown', 'close'].every((m) => typeof proto[m] === 'function')) return undefined;
    cached = {
      Pipe: pipe.Pipe, PipeConnectWrap: pipe.PipeConnectWrap, SOCKET: pipe.constants.SOCKET, SERVER: pipe.constants.SERVER,
      WriteWrap: stream.WriteWrap, ShutdownWrap: stream.ShutdownWrap, state: stream.streamBaseState,
      kRead: stream.kReadBytesOrError, kOffset: stream.kArrayBufferOffset,
      // Only a failure needs its name: the binding is loaded then, not at every start.
      errname: (n) => {
        try {
          const uv = binding('uv') as { errname?: (n: number) => string };
          return typeof uv.errname === 'function' ? uv.errname(n) : `E${-n}`;
        } catch {
          return `E${-n}`;
        }
      },
    };
  } catch {
    cached = null;
  }
  return cached ?? undefined;
}
