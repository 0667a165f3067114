import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeJson, encodeProtobuf, readResponse, SCOPE } from '../src/audit/otlp.js';
import { isShippable, projectCheckpoint, projectEvent, pseudonym, unixNanos } from '../src/audit/redact.js';
import { shipConfig, shownEndpoint, parseDuration } from '../src/audit/otlp-config.js';
import { retryAfterMs } from '../src/audit/ship.js';
import { loadSalt } from '../src/audit/salt.js';
import { resolveHome } from '../src/home.js';
import type { AuditRow } from '../src/audit/event.js';
import { ACTOR } from './audit-fixtures.js';
import { tempDir } from './helpers.js';
import { checkOtlpJson, RequestType, ResponseType } from './fixtures/otlp/receiver.js';

const SALT = Buffer.alloc(32, 7);
const NOW = new Date('2026-05-14T12:00:05Z');
const CANARY_KEY = 'CANARY_KEY_NAME_7f3a';
const CANARY_VALUE = 'canary-value-9b1c';

function row(over: Partial<AuditRow> = {}): AuditRow {
  return {
    schema_version: 2,
    seq: 42,
    ts: '2026-05-14T12:00:00.123456789Z',
    event: 'get',
    app: 'billing',
    env: 'prod',
    outcome: 'ok',
    actor: { ...ACTOR, tty: '/dev/pts/9', cwd: `/home/u/${CANARY_KEY}`, agent_session: 'sess-secret-1' },
    fields: { key: CANARY_KEY, count: 3, [CANARY_KEY.toLowerCase()]: CANARY_VALUE },
    prev: 'a'.repeat(64),
    hash: 'b'.repeat(64),
    ...over,
  };
}

function request(records = [projectEvent(row(), SALT, NOW)]) {
  return { resource: [['service.name', 'lsm'], ['host.name', 'box']] as Array<[string, string]>, scope: SCOPE, records };
}

test('the JSON body is a valid ExportLogsServiceRequest in OTLP JSON', () => {
  const records = [projectEvent(row(), SALT, NOW), projectCheckpoint({ seqFrom: 40, seq: 43, head: 'c'.repeat(64), shipped: 1, heartbeat: false }, NOW)];
  const body = JSON.parse(encodeJson(request(records)));
  assert.deepEqual(checkOtlpJson(RequestType, body), []);
  assert.equal(RequestType.verify(RequestType.fromObject(body)), null);
  const rec = body.resourceLogs[0].scopeLogs[0].logRecords[0];
  assert.equal(rec.timeUnixNano, '1778760000123456789');
  assert.equal(rec.severityNumber, 9);
});

test('the strict JSON check catches what a sloppy encoder would send', () => {
  const bad = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ time_unix_nano: '1', severityNumber: 'SEVERITY_NUMBER_INFO', observedTimeUnixNano: 5, attributes: [{ key: 'a', value: { stringValue: 'x', intValue: '1' } }] }] }] }] };
  const errors = checkOtlpJson(RequestType, bad).join('\n');
  assert.match(errors, /time_unix_nano: not a field/);
  assert.match(errors, /severityNumber: expected an enum integer/);
  assert.match(errors, /observedTimeUnixNano: expected a decimal string/);
  assert.match(errors, /more than one of oneof value/);
});

test('the hand-written protobuf decodes with the official schema to the same request as the JSON', () => {
  const records = [projectEvent(row(), SALT, NOW), projectCheckpoint({ seqFrom: 1, seq: 42, head: 'c'.repeat(64), shipped: 1, heartbeat: true }, NOW)];
  const pb = encodeProtobuf(request(records));
  const msg = RequestType.decode(pb);
  assert.deepEqual(Buffer.from(RequestType.encode(msg).finish()), pb);
  const fromPb = RequestType.toObject(msg, { longs: String, enums: Number, bytes: String });
  const fromJson = RequestType.toObject(RequestType.fromObject(JSON.parse(encodeJson(request(records)))), { longs: String, enums: Number, bytes: String });
  assert.deepEqual(fromPb, fromJson);
});

test('responses: empty, success, partial success (JSON and protobuf), and garbage', () => {
  assert.equal(readResponse(Buffer.alloc(0), 'application/json'), null);
  assert.equal(readResponse(Buffer.from('{}'), 'application/json'), null);
  assert.equal(readResponse(Buffer.from('{"partialSuccess":{}}'), 'application/json'), null);
  assert.deepEqual(readResponse(Buffer.from('{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}'), 'application/json'), { rejected: 2, message: 'too old' });
  const pb = Buffer.from(ResponseType.encode(ResponseType.fromObject({ partialSuccess: { rejectedLogRecords: 3, errorMessage: 'bad' } })).finish());
  assert.deepEqual(readResponse(pb, 'application/x-protobuf'), { rejected: 3, message: 'bad' });
  assert.equal(readResponse(Buffer.from('<html>502</html>'), 'text/html'), undefined);
  assert.equal(readResponse(Buffer.from('[1,2]'), 'application/json'), undefined);
  assert.equal(readResponse(Buffer.from([0xff, 0xff, 0xff]), 'application/x-protobuf'), undefined);
});

test('redaction: only the allowlist leaves; key names, values, cwd, tty, session, prev and hash do not', () => {
  const r = row();
  const rec = projectEvent(r, SALT, NOW);
  const bytes = encodeJson(request([rec])) + encodeProtobuf(request([rec])).toString('latin1');
  for (const secret of [CANARY_KEY, CANARY_KEY.toLowerCase(), CANARY_VALUE, 'billing', 'prod', '/dev/pts/9', '/home/u', 'sess-secret-1', 'a'.repeat(64), 'b'.repeat(64), 'CLAUDECODE', 'env:CLAUDECODE']) {
    assert.ok(!bytes.includes(secret), `${secret} was sent`);
  }
  const attrs = Object.fromEntries(rec.attributes);
  assert.deepEqual(attrs, {
    'lsm.kind': 'event',
    'lsm.event': 'get',
    'lsm.seq': 42,
    'lsm.outcome': 'ok',
    'lsm.app': pseudonym(SALT, 'billing'),
    'lsm.env': pseudonym(SALT, 'prod'),
    'lsm.tty_present': true,
    'lsm.agent_marker': 'claude',
    'lsm.actor.parent_comm': 'bash',
    // The agent, not the shell: what the local detectors and the Loki rules group by.
    'lsm.actor.id': 'claude',
    'lsm.actor.class': 'agent',
    'lsm.how': 'plaintext',
    'lsm.actor.ppid': 100,
    'lsm.actor.uid': 1000,
    'lsm.count': 3,
    'lsm.key_present': true,
    'lsm.other_fields_present': true,
  });
  assert.match(attrs['lsm.app'] as string, /^[0-9a-f]{12}$/);
  assert.notEqual(pseudonym(Buffer.alloc(32, 8), 'billing'), attrs['lsm.app']);
});

test('redaction: no agent is "none", no tty is false, a bad event name is flattened, count must be an integer', () => {
  const rec = projectEvent(row({ event: 'x y\n<z>', actor: { ...ACTOR, tty: '', agent_marker: '' }, fields: { count: 'API_KEY' } }), SALT, NOW);
  const attrs = Object.fromEntries(rec.attributes);
  assert.equal(attrs['lsm.tty_present'], false);
  assert.equal(attrs['lsm.agent_marker'], 'none');
  assert.equal(attrs['lsm.event'], 'x_y__z_');
  assert.equal(attrs['lsm.count_present'], true);
  assert.equal(attrs['lsm.count'], undefined);
});

test('audit.* and local-only events never ship', () => {
  assert.equal(isShippable(row()), true);
  assert.equal(isShippable(row({ event: 'audit.sink.dropped' })), false);
  assert.equal(isShippable(row({ event: 'audit.verify' })), false);
  assert.equal(isShippable(row({ local_only: true })), false);
});

test('event time: every fraction digit, any offset; unreadable is 0', () => {
  assert.equal(unixNanos('2026-05-14T12:00:00Z'), '1778760000000000000');
  assert.equal(unixNanos('2026-05-14T12:00:00.5Z'), '1778760000500000000');
  assert.equal(unixNanos('2026-05-14T14:00:00.000000001+02:00'), '1778760000000000001');
  assert.equal(unixNanos('yesterday'), '0');
});

const cfg = (otlp: Record<string, unknown> | undefined) => shipConfig(otlp ? { otlp } as never : {});

test('config: only config.yaml turns shipping on', () => {
  assert.equal(cfg(undefined).enabled, false);
  assert.equal(cfg({ enabled: false }).enabled, false);
  assert.equal(cfg({ enabled: true }).enabled, true);
  assert.equal(cfg({ enabled: true }).endpoint, 'http://localhost:4318/v1/logs');
});

test('config: no environment variable is read (an agent or a stray export would redirect, rename or stop the mirror)', () => {
  const saved = { ...process.env };
  Object.assign(process.env, {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://evil:4318', OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://evil:9/x', OTEL_EXPORTER_OTLP_HEADERS: 'x-env=1',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TIMEOUT: '1', OTEL_SERVICE_NAME: 'other', OTEL_RESOURCE_ATTRIBUTES: 'service.name=a,team=x',
  });
  try {
    const c = cfg({ enabled: true });
    assert.deepEqual([c.enabled, c.endpoint, c.headers, c.protocol, c.timeoutMs, c.resource], [true, 'http://localhost:4318/v1/logs', {}, 'http/json', 10_000, { 'service.name': 'lsm' }]);
    assert.equal(cfg(undefined).enabled, false);
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  }
  // And the module has no other way in: it never reads process.env.
  assert.doesNotMatch(readFileSync('src/audit/otlp-config.ts', 'utf8'), /process\.env/);
});

test('config: the endpoint is config.yaml\'s, with /v1/logs added to a bare base; anything but a URL string is refused', () => {
  assert.equal(cfg({ enabled: true, endpoint: 'http://mine:4318' }).endpoint, 'http://mine:4318/v1/logs');
  assert.equal(cfg({ enabled: true, endpoint: 'http://mine:4318/otlp/v1/logs' }).endpoint, 'http://mine:4318/otlp/v1/logs');
  // A number or a list used to fall back to localhost:4318 with the headers (the token) sent there.
  for (const endpoint of [14318, ['a'], { u: 1 }, '', 'not a url', 'file:///tmp/x']) {
    const c = cfg({ enabled: true, endpoint, headers: { Authorization: 'Bearer t' } });
    assert.equal(c.enabled, false, JSON.stringify(endpoint));
    assert.match(c.why, /otlp\.endpoint is not/);
  }
});

test('config: headers must be a mapping of valid names and values, and are never quoted', () => {
  const headers = { Authorization: 'Bearer token-1' };
  assert.deepEqual(cfg({ enabled: true, endpoint: 'http://mine:4318', headers }).headers, headers);
  for (const bad of ['notamap', ['a', 'b'], 3]) {
    const c = cfg({ enabled: true, endpoint: 'http://mine:4318', headers: bad });
    assert.equal(c.enabled, false, JSON.stringify(bad));
    assert.match(c.why, /otlp\.headers must be a mapping/);
  }
  const bad = cfg({ enabled: true, endpoint: 'http://mine:4318', headers: { 'X-Token': 'tok-SECRET\r\nX-Injected: 1' } });
  assert.equal(bad.enabled, false);
  assert.match(bad.why, /header X-Token holds characters HTTP does not allow/);
  assert.ok(!bad.why.includes('SECRET'));
});

test('config: protocol, timeout, batch size and retries, each bounded', () => {
  assert.equal(cfg({ enabled: true }).protocol, 'http/json');
  assert.equal(cfg({ enabled: true, protocol: 'http/protobuf' }).protocol, 'http/protobuf');
  const grpc = cfg({ enabled: true, protocol: 'grpc' });
  assert.equal(grpc.enabled, false);
  assert.match(grpc.why, /grpc.*not supported/);
  assert.equal(cfg({ enabled: true, timeout: '3s' }).timeoutMs, 3000);
  assert.equal(cfg({ enabled: true, timeout: 'soon' }).enabled, false);
  // Past 2^31 ms Node fires the timer at once: every request would "time out".
  assert.match(cfg({ enabled: true, timeout: 3_000_000 }).why, /timeout is over 5m/);
  assert.equal(cfg({ enabled: true, timeout: '5m' }).timeoutMs, 300_000);
  assert.equal(cfg({ enabled: true, max_retries: 0 }).maxRetries, 0);
  assert.equal(cfg({ enabled: true }).maxRetries, 5);
  assert.equal(cfg({ enabled: true, batch_size: 0 }).enabled, false);
  assert.equal(cfg({ enabled: true, batch_size: 10_001 }).enabled, false);
  assert.equal(cfg({ enabled: true, batch_size: 10_000 }).batchSize, 10_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('2m'), 120000);
  assert.equal(parseDuration(4), 4000);
});

test('config: resource attributes from otlp.resource; service.name defaults to lsm; lsm\'s own cannot be set', () => {
  assert.deepEqual(cfg({ enabled: true }).resource, { 'service.name': 'lsm' });
  assert.deepEqual(cfg({ enabled: true, resource: { team: 'sec,ops', 'deployment.environment': 'laptop' } }).resource, { team: 'sec,ops', 'deployment.environment': 'laptop', 'service.name': 'lsm' });
  const own = cfg({ enabled: true, resource: { 'host.name': 'elsewhere' } });
  assert.equal(own.enabled, false);
  assert.match(own.why, /cannot set host\.name/);
  assert.equal(cfg({ enabled: true, resource: 'x' }).enabled, false);
});

test('an endpoint is shown without credentials', () => {
  assert.equal(shownEndpoint('https://user:pw@collector:4318/v1/logs?token=abc'), 'https://collector:4318/v1/logs?…');
});

test('Retry-After: seconds or an HTTP date, capped at 60 s', () => {
  const now = Date.parse('2026-05-14T12:00:00Z');
  assert.equal(retryAfterMs('3', now), 3000);
  assert.equal(retryAfterMs('0', now), 0);
  assert.equal(retryAfterMs('3600', now), 60000);
  assert.equal(retryAfterMs('Thu, 14 May 2026 12:00:10 GMT', now), 10000);
  assert.equal(retryAfterMs('whenever', now), undefined);
  assert.equal(retryAfterMs(undefined, now), undefined);
});

test('the salt: created once, 0600, the same for every process that races to create it', async () => {
  const dir = join(tempDir('lsm-salt-'), 'home');
  mkdirSync(dir);
  const outs = await Promise.all(Array.from({ length: 8 }, () => new Promise<string>((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/otlp/salt-race.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
  })));
  assert.equal(new Set(outs).size, 1);
  assert.match(outs[0], /^[0-9a-f]{64}$/);
  const path = join(dir, 'observability.salt');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(loadSalt(resolveHome(dir, {})).toString('hex'), outs[0]);
});

test('the salt: a readable-by-others or wrong-sized salt is refused, not replaced', () => {
  const dir = tempDir('lsm-salt-');
  const home = resolveHome(dir, {});
  const path = join(dir, 'observability.salt');
  writeFileSync(path, Buffer.alloc(32, 1), { mode: 0o644 });
  chmodSync(path, 0o644);
  assert.throws(() => loadSalt(home), /mode 644/);
  writeFileSync(path, Buffer.alloc(16, 1), { mode: 0o600 });
  chmodSync(path, 0o600);
  assert.throws(() => loadSalt(home), /32-byte salt/);
});
