import { hostname } from 'node:os';
import { isTrue, setting, type ConfigTree } from '../config.js';

/**
 * Where and how audit events are mirrored, from config.yaml's `otlp:` block and the
 * standard OTEL_EXPORTER_OTLP_* variables. The rules (docs/observability.md):
 * - Only config.yaml turns shipping on (`otlp.enabled: true`). A variable cannot: the
 *   environment of an lsm command is the caller's, and an agent must not be able to
 *   start a mirror to a server of its choosing.
 * - config.yaml is the user's own declarative configuration, so a setting it gives wins;
 *   a variable fills in what it leaves out (signal-specific `_LOGS_` before the generic
 *   one, as the OTLP exporter spec orders them); then the default.
 * - Headers travel with the endpoint they were written for: config.yaml's headers only
 *   go to config.yaml's endpoint, the variables' headers only to the variables'
 *   endpoint, so a variable can never send the user's token elsewhere.
 * - Nothing here touches redaction (src/audit/redact.ts has no inputs from here).
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
  /** Resource attributes other than lsm's own (service.name and the variables' extras). */
  resource: Record<string, string>;
  hostName: string;
}

export const DEFAULTS = {
  endpoint: 'http://localhost:4318/v1/logs',
  timeoutMs: 10_000,
  batchSize: 100,
  maxRetries: 5,
};

function envVar(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

/** A base URL gets the logs path; a URL with a path of its own is used as written. */
export function logsUrl(base: string): string {
  const u = new URL(base);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/v1/logs';
  return u.toString();
}

/** OTEL_EXPORTER_OTLP_ENDPOINT + `v1/logs`, with exactly one slash between. */
function fromBase(base: string): string {
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/logs`;
  return u.toString();
}

/** `k1=v1,k2=v2` (W3C baggage: percent-encoded, `;` properties dropped). Undefined on a decode error. */
export function parseKeyValues(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const member = item.split(';')[0];
    const eq = member.indexOf('=');
    if (eq <= 0) return undefined;
    try {
      const k = decodeURIComponent(member.slice(0, eq).trim());
      const v = decodeURIComponent(member.slice(eq + 1).trim());
      if (!k) return undefined;
      out[k] = v;
    } catch {
      return undefined;
    }
  }
  return out;
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

function stringMap(v: unknown): Record<string, string> | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object') return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === null || val === undefined) continue;
    out[k] = String(val);
  }
  return out;
}

/** Reads the shipping configuration; never throws (a bad setting is reported in `problem`). */
export function shipConfig(tree: ConfigTree, env: NodeJS.ProcessEnv): ShipConfig {
  const o = (key: string) => setting(tree, 'otlp', key);
  const problems: string[] = [];

  const cfgEndpoint = o('endpoint');
  const cfgHeaders = stringMap(o('headers')) ?? {};
  const logsEnv = envVar(env, 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT');
  const baseEnv = envVar(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  let endpointSource: string;
  let url: () => string;
  let headers: Record<string, string>;
  if (typeof cfgEndpoint === 'string' && cfgEndpoint.trim()) {
    endpointSource = 'config.yaml otlp.endpoint';
    url = () => logsUrl(cfgEndpoint.trim());
    headers = cfgHeaders;
  } else {
    if (logsEnv) {
      endpointSource = 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT';
      url = () => new URL(logsEnv).toString();
    } else if (baseEnv) {
      endpointSource = 'OTEL_EXPORTER_OTLP_ENDPOINT';
      url = () => fromBase(baseEnv);
    } else {
      endpointSource = 'default';
      url = () => DEFAULTS.endpoint;
    }
    headers = {};
    const h = envVar(env, 'OTEL_EXPORTER_OTLP_LOGS_HEADERS') ?? envVar(env, 'OTEL_EXPORTER_OTLP_HEADERS');
    if (h !== undefined) {
      const parsed = parseKeyValues(h);
      if (parsed) headers = parsed;
      else problems.push('OTEL_EXPORTER_OTLP_HEADERS is not k1=v1,k2=v2');
    }
    // Headers written in config.yaml without an endpoint are for the default collector only.
    if (endpointSource === 'default') headers = { ...headers, ...cfgHeaders };
  }
  for (const [name, value] of Object.entries(headers)) {
    // Named, never quoted: a header value is a credential.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) problems.push(`header name ${JSON.stringify(name.slice(0, 40))} is not a valid HTTP header name`);
    else if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) problems.push(`the value of header ${name} holds characters HTTP does not allow`);
  }
  let endpoint = DEFAULTS.endpoint;
  try {
    endpoint = url();
    if (!/^https?:$/.test(new URL(endpoint).protocol)) problems.push(`the endpoint from ${endpointSource} is not http:// or https://`);
  } catch {
    problems.push(`the endpoint from ${endpointSource} is not a URL`);
  }

  let protocol: Protocol = 'http/json';
  let protocolSource = 'default';
  const cfgProtocol = o('protocol');
  const envProtocol = envVar(env, 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL') ?? envVar(env, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  const rawProtocol = typeof cfgProtocol === 'string' && cfgProtocol ? cfgProtocol : envProtocol;
  if (rawProtocol !== undefined) {
    protocolSource = rawProtocol === cfgProtocol ? 'config.yaml otlp.protocol' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    if (rawProtocol === 'http/json' || rawProtocol === 'http/protobuf') protocol = rawProtocol;
    else problems.push(`protocol ${JSON.stringify(rawProtocol)} (${protocolSource}) is not supported: use http/json or http/protobuf`);
  }

  let timeoutMs = DEFAULTS.timeoutMs;
  const cfgTimeout = o('timeout');
  const envTimeout = envVar(env, 'OTEL_EXPORTER_OTLP_LOGS_TIMEOUT') ?? envVar(env, 'OTEL_EXPORTER_OTLP_TIMEOUT');
  if (cfgTimeout !== undefined && cfgTimeout !== null) {
    const t = parseDuration(cfgTimeout);
    if (t === undefined || t <= 0) problems.push('config.yaml otlp.timeout is not a duration (e.g. 10s, 500ms)');
    else timeoutMs = t;
  } else if (envTimeout !== undefined) {
    const t = Number(envTimeout);
    if (Number.isInteger(t) && t > 0) timeoutMs = t;
    else problems.push('OTEL_EXPORTER_OTLP_TIMEOUT is not a number of milliseconds');
  }

  const batchSize = o('batch_size') === undefined ? DEFAULTS.batchSize : positiveInt(o('batch_size'), 1);
  if (batchSize === undefined) problems.push('config.yaml otlp.batch_size must be a whole number >= 1');
  // 0 really means "no retries" (the original turned 0 into 3).
  const maxRetries = o('max_retries') === undefined ? DEFAULTS.maxRetries : positiveInt(o('max_retries'), 0);
  if (maxRetries === undefined) problems.push('config.yaml otlp.max_retries must be a whole number >= 0');

  const resource: Record<string, string> = {};
  const attrs = envVar(env, 'OTEL_RESOURCE_ATTRIBUTES');
  // A decode error discards the whole variable (resource SDK spec).
  if (attrs) Object.assign(resource, parseKeyValues(attrs) ?? {});
  const serviceName = envVar(env, 'OTEL_SERVICE_NAME');
  if (serviceName) resource['service.name'] = serviceName;
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
