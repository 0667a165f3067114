import * as http from 'node:http';
import * as https from 'node:https';
import type { AttrValue, LogRecordData } from './redact.js';

/**
 * ExportLogsServiceRequest in the two OTLP/HTTP encodings. The protobuf one is written
 * by hand (field numbers from opentelemetry/proto/logs/v1/logs.proto) so that the CLI
 * carries no protobuf library; tests decode it with protobufjs and the official schema.
 */
export interface ExportRequest {
  resource: Array<[string, AttrValue]>;
  scope: { name: string; version: string };
  records: LogRecordData[];
}

export const SCOPE = { name: 'lsm.audit', version: '1' };

// --- JSON (OTLP's proto3 JSON: lowerCamelCase, int64 as strings, enums as numbers) ---

function jsonValue(v: AttrValue): Record<string, unknown> {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return { intValue: String(v) };
}

function jsonAttrs(attrs: Array<[string, AttrValue]>): unknown[] {
  return attrs.map(([key, v]) => ({ key, value: jsonValue(v) }));
}

export function encodeJson(req: ExportRequest): string {
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: jsonAttrs(req.resource) },
        scopeLogs: [
          {
            scope: req.scope,
            logRecords: req.records.map((r) => ({
              timeUnixNano: r.timeUnixNano,
              observedTimeUnixNano: r.observedTimeUnixNano,
              severityNumber: r.severityNumber,
              severityText: r.severityText,
              eventName: r.eventName,
              body: { stringValue: r.body },
              attributes: jsonAttrs(r.attributes),
            })),
          },
        ],
      },
    ],
  });
}

// --- Protobuf ---

class Writer {
  private chunks: Buffer[] = [];
  private size = 0;

  private push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
  }

  varint(n: bigint): void {
    const out: number[] = [];
    let v = BigInt.asUintN(64, n);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Buffer.from(out));
  }

  tag(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  uint(field: number, n: number | bigint): void {
    this.tag(field, 0);
    this.varint(BigInt(n));
  }

  fixed64(field: number, n: bigint): void {
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, n));
    this.push(b);
  }

  bytes(field: number, b: Buffer): void {
    this.tag(field, 2);
    this.varint(BigInt(b.length));
    this.push(b);
  }

  string(field: number, s: string): void {
    this.bytes(field, Buffer.from(s, 'utf8'));
  }

  message(field: number, fill: (w: Writer) => void): void {
    const w = new Writer();
    fill(w);
    this.bytes(field, w.finish());
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

// AnyValue: string_value = 1, bool_value = 2, int_value = 3.
function pbValue(w: Writer, v: AttrValue): void {
  if (typeof v === 'string') w.string(1, v);
  else if (typeof v === 'boolean') w.uint(2, v ? 1 : 0);
  else w.uint(3, BigInt(v));
}

// KeyValue: key = 1, value = 2.
function pbAttrs(w: Writer, field: number, attrs: Array<[string, AttrValue]>): void {
  for (const [key, v] of attrs) {
    w.message(field, (kv) => {
      kv.string(1, key);
      kv.message(2, (av) => pbValue(av, v));
    });
  }
}

export function encodeProtobuf(req: ExportRequest): Buffer {
  const w = new Writer();
  // ExportLogsServiceRequest.resource_logs = 1
  w.message(1, (rl) => {
    rl.message(1, (res) => pbAttrs(res, 1, req.resource)); // ResourceLogs.resource, Resource.attributes
    rl.message(2, (sl) => { // ResourceLogs.scope_logs
      sl.message(1, (sc) => { // ScopeLogs.scope
        sc.string(1, req.scope.name);
        sc.string(2, req.scope.version);
      });
      for (const r of req.records) {
        sl.message(2, (lr) => { // ScopeLogs.log_records
          lr.fixed64(1, BigInt(r.timeUnixNano));
          lr.uint(2, r.severityNumber);
          lr.string(3, r.severityText);
          lr.message(5, (b) => pbValue(b, r.body));
          pbAttrs(lr, 6, r.attributes);
          lr.fixed64(11, BigInt(r.observedTimeUnixNano));
          lr.string(12, r.eventName);
        });
      }
    });
  });
  return w.finish();
}

// --- Responses ---

export interface PartialSuccess {
  rejected: number;
  message: string;
}

/**
 * Reads an ExportLogsServiceResponse. Returns null for an empty or success-only answer,
 * the partial success when one is reported, or undefined when the body is not an OTLP
 * response at all (an HTML page from a proxy, a wrong endpoint).
 */
export function readResponse(body: Buffer, contentType: string): PartialSuccess | null | undefined {
  if (body.length === 0) return null;
  if (/protobuf/i.test(contentType)) return readProtobufResponse(body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const ps = (parsed as Record<string, any>).partialSuccess ?? (parsed as Record<string, any>).partial_success;
  if (ps === undefined || ps === null || typeof ps !== 'object') return null;
  const rejected = Number(ps.rejectedLogRecords ?? ps.rejected_log_records ?? 0);
  const message = String(ps.errorMessage ?? ps.error_message ?? '');
  if (!Number.isFinite(rejected)) return undefined;
  return rejected > 0 || message ? { rejected, message } : null;
}

function readVarint(b: Buffer, pos: { i: number }): bigint {
  let v = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos.i >= b.length) throw new RangeError('truncated');
    const byte = b[pos.i++];
    v |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return v;
  }
  throw new RangeError('varint too long');
}

/** Walks one message's fields, calling `on` for each; unknown fields are skipped as protobuf says. */
function walk(b: Buffer, on: (field: number, wire: number, value: bigint | Buffer) => void): void {
  const pos = { i: 0 };
  while (pos.i < b.length) {
    const key = readVarint(b, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new RangeError('field 0');
    if (wire === 0) on(field, wire, readVarint(b, pos));
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos.i + n > b.length) throw new RangeError('truncated');
      on(field, wire, b.subarray(pos.i, (pos.i += n)));
    } else if (wire === 2) {
      const len = Number(readVarint(b, pos));
      if (pos.i + len > b.length) throw new RangeError('truncated');
      on(field, wire, b.subarray(pos.i, (pos.i += len)));
    } else throw new RangeError(`wire type ${wire}`);
  }
}

function readProtobufResponse(body: Buffer): PartialSuccess | null | undefined {
  try {
    let result: PartialSuccess | null = null;
    walk(body, (field, wire, value) => {
      if (field !== 1 || wire !== 2) return;
      const ps = { rejected: 0, message: '' };
      walk(value as Buffer, (f, w, v) => {
        if (f === 1 && w === 0) ps.rejected = Number(BigInt.asIntN(64, v as bigint));
        if (f === 2 && w === 2) ps.message = (v as Buffer).toString('utf8');
      });
      if (ps.rejected > 0 || ps.message) result = ps;
    });
    return result;
  } catch {
    return undefined;
  }
}

// --- Transport ---

export type PostResult =
  | { ok: true; status: number; contentType: string; retryAfter?: string; body: Buffer }
  | { ok: false; error: string };

/** Responses are capped (the spec's 4 MiB): the answer to a log batch is never large. */
const MAX_RESPONSE = 4 * 1024 * 1024;

/**
 * One POST with a deadline covering connect, send and the whole response, so a
 * black-holed collector costs `timeoutMs` and no more. Never throws; never follows a
 * redirect (it could carry the headers, credentials included, to another host).
 */
export function post(url: string, body: Buffer | string, headers: Record<string, string>, timeoutMs: number, signal?: AbortSignal): Promise<PostResult> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      resolve(r);
    };
    let req: http.ClientRequest;
    try {
      req = mod.request(u, { method: 'POST', headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } }, onResponse);
    } catch (err) {
      // Only the code: the message of a header check quotes the header.
      return finish({ ok: false, error: `cannot build the request (${describeNetError(err)})` });
    }
    timer = setTimeout(() => {
      finish({ ok: false, error: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => finish({ ok: false, error: describeNetError(err) }));
    // `ship --follow` stopped (SIGTERM, Ctrl-C): end now, not when a hung collector times out.
    function abort(): void {
      finish({ ok: false, error: 'stopped' });
      req.destroy();
    }
    if (signal?.aborted) return abort();
    signal?.addEventListener('abort', abort, { once: true });
    req.end(body);

    function onResponse(res: http.IncomingMessage): void {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE) {
          req.destroy();
          finish({ ok: false, error: 'response larger than 4 MiB' });
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const ra = res.headers['retry-after'];
        finish({
          ok: true,
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          retryAfter: Array.isArray(ra) ? ra[0] : ra,
          body: Buffer.concat(chunks),
        });
      });
      res.on('error', (err) => finish({ ok: false, error: describeNetError(err) }));
    }
  });
}

// A socket error names the address, never the request: no header can leak through it.
function describeNetError(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ECONNRESET': return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return 'host name not found';
    case 'ETIMEDOUT': return 'connection timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return 'network unreachable';
    default: return typeof code === 'string' ? code : 'network error';
  }
}
