import { hostname } from 'node:os';
import { isTrue, setting, type ConfigTree } from '../config.js';

/**
 * Where and how audit events are mirrored: config.yaml's `otlp:` block and nothing else
 * (docs/observability.md). The environment of an lsm command is its caller's, and the
 * OTEL_* variables are often set for other programs: read here, an agent or a stray
 * export could start a mirror to a server of its choosing, send it the events and move
 * the cursor past them, rename the service out of every alert rule, or switch the
 * mirror off (a protocol lsm does not speak) just before cutting the log's tail.
 * Nothing here touches redaction (src/audit/redact.ts has no inputs from here).
 */
export type Protocol = 'http/json' | 'http/protobuf';

export interface ShipConfig {
  enabled: boolean;
  /** Why shipping is on or off, for `lsm audit ship --status`. */
  why: string;
  /** A setting that cannot be used; shipping is off while it stands. */
  problem?: string;
  /** The full URL of the logs endpoint. */
  endpoint: string;
  endpointSource: string;
  headers: Record<string, string>;
  protocol: Protocol;
  protocolSource: string;
  timeoutMs: number;
  batchSize: number;
  maxRetries: number;
  /** Resource attributes other than lsm's own: service.name and config.yaml's `otlp.resource`. */
  resource: Record<string, string>;
  hostName: string;
}

export const DEFAULTS = {
  endpoint: 'http://localhost:4318/v1/logs',
  timeoutMs: 10_000,
  batchSize: 100,
  maxRetries: 5,
};

/** A base URL gets the logs path; a URL with a path of its own is used as written. */
export function logsUrl(base: string): string {
  const u = new URL(base);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/v1/logs';
  return u.toString();
}

/** `10s`, `500ms`, `2m`, or a number of seconds. Undefined when unreadable. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v * 1000;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

function positiveInt(v: unknown, min: number): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= min ? v : undefined;
}

/** A mapping of strings (null entries left out); anything else is a problem, never read as empty. */
function mapping(v: unknown, key: string, problems: string[]): Record<string, string> {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    problems.push(`config.yaml otlp.${key} must be a mapping of names to values`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === null || val === undefined) continue;
    out[k] = String(val);
  }
  return out;
}

/** Longer waits on one request than this are a typo, and past 2^31 ms Node's timers fire at once. */
const MAX_TIMEOUT_MS = 5 * 60_000;
/** A batch is one request: a proxy's size limit turns a huge one into a request that never passes. */
const MAX_BATCH = 10_000;
/** Resource attributes that are lsm's to say: receivers deduplicate by (host, seq). */
const OWN_ATTRIBUTES = ['host.name', 'service.instance.id', 'service.version'];

/** Reads the shipping configuration; never throws (a bad setting is reported in `problem`). */
export function shipConfig(tree: ConfigTree): ShipConfig {
  const o = (key: string) => setting(tree, 'otlp', key);
  const problems: string[] = [];

  let endpoint = DEFAULTS.endpoint;
  let endpointSource = 'default';
  const cfgEndpoint = o('endpoint');
  if (cfgEndpoint !== undefined && cfgEndpoint !== null) {
    endpointSource = 'config.yaml otlp.endpoint';
    try {
      if (typeof cfgEndpoint !== 'string' || !cfgEndpoint.trim()) throw new Error('not a string');
      endpoint = logsUrl(cfgEndpoint.trim());
      if (!/^https?:$/.test(new URL(endpoint).protocol)) problems.push('config.yaml otlp.endpoint is not http:// or https://');
    } catch {
      problems.push('config.yaml otlp.endpoint is not a URL');
    }
  }

  const headers = mapping(o('headers'), 'headers', problems);
  for (const [name, value] of Object.entries(headers)) {
    // Named, never quoted: a header value is a credential.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) problems.push(`header name ${JSON.stringify(name.slice(0, 40))} is not a valid HTTP header name`);
    else if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) problems.push(`the value of header ${name} holds characters HTTP does not allow`);
  }

  let protocol: Protocol = 'http/json';
  let protocolSource = 'default';
  const cfgProtocol = o('protocol');
  if (cfgProtocol !== undefined && cfgProtocol !== null) {
    protocolSource = 'config.yaml otlp.protocol';
    if (cfgProtocol === 'http/json' || cfgProtocol === 'http/protobuf') protocol = cfgProtocol;
    else problems.push(`protocol ${JSON.stringify(String(cfgProtocol).slice(0, 40))} (config.yaml otlp.protocol) is not supported: use http/json or http/protobuf`);
  }

  let timeoutMs = DEFAULTS.timeoutMs;
  const cfgTimeout = o('timeout');
  if (cfgTimeout !== undefined && cfgTimeout !== null) {
    const t = parseDuration(cfgTimeout);
    if (t === undefined || t <= 0) problems.push('config.yaml otlp.timeout is not a duration (e.g. 10s, 500ms)');
    else if (t > MAX_TIMEOUT_MS) problems.push('config.yaml otlp.timeout is over 5m');
    else timeoutMs = t;
  }

  const batchSize = o('batch_size') === undefined ? DEFAULTS.batchSize : positiveInt(o('batch_size'), 1);
  if (batchSize === undefined || batchSize > MAX_BATCH) problems.push(`config.yaml otlp.batch_size must be a whole number from 1 to ${MAX_BATCH}`);
  // 0 really means "no retries" (the original turned 0 into 3).
  const maxRetries = o('max_retries') === undefined ? DEFAULTS.maxRetries : positiveInt(o('max_retries'), 0);
  if (maxRetries === undefined) problems.push('config.yaml otlp.max_retries must be a whole number >= 0');

  const resource = mapping(o('resource'), 'resource', problems);
  const own = OWN_ATTRIBUTES.filter((k) => k in resource);
  if (own.length > 0) problems.push(`config.yaml otlp.resource cannot set ${own.join(', ')} (lsm's own)`);
  resource['service.name'] ??= 'lsm';

  const enabled = isTrue(o('enabled'));
  const problem = problems.length > 0 ? problems.join('; ') : undefined;
  const why = !enabled
    ? "off: config.yaml does not say 'otlp: {enabled: true}'"
    : problem
      ? `off: ${problem}`
      : 'on: config.yaml otlp.enabled is true';
  return {
    enabled: enabled && !problem,
    why,
    problem,
    endpoint,
    endpointSource,
    headers,
    protocol,
    protocolSource,
    timeoutMs,
    batchSize: batchSize ?? DEFAULTS.batchSize,
    maxRetries: maxRetries ?? DEFAULTS.maxRetries,
    resource,
    hostName: hostname(),
  };
}

/** The endpoint as it may be shown: no user, password or query (they can hold credentials). */
export function shownEndpoint(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(not a URL)';
  }
}
