import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { record } from '../src/audit/record.js';
import { onAfterAppend } from '../src/audit/hooks.js';
import { resolveHome } from '../src/home.js';
import { LsmError } from '../src/errors.js';
import type { Context } from '../src/context.js';
import type { AuditRow } from '../src/audit/event.js';
import { clock } from './audit-fixtures.js';
import { tempDir } from './helpers.js';

function context(env: NodeJS.ProcessEnv = {}, opts: { create?: boolean } = {}): Context & { err: string[] } {
  const dir = join(tempDir('lsm-rec-'), 'home');
  if (opts.create !== false) mkdirSync(dir, { mode: 0o700 });
  const err: string[] = [];
  const stderr = { write: (s: string) => (err.push(s), true) } as unknown as Context['stderr'];
  return {
    home: resolveHome(dir, {}),
    flags: {},
    cwd: '/work/project',
    env,
    now: clock('2026-05-14T12:00:00Z'),
    stdin: process.stdin,
    stdout: stderr,
    stderr,
    argv: [],
    err,
  };
}

function events(ctx: Context): any[] {
  return readFileSync(ctx.home.audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('records with the context clock, cwd and environment', async () => {
  const ctx = context({ CLAUDECODE: '1', CLAUDE_CODE_SESSION_ID: 'sess-9' });
  await record(ctx, { event: 'get', app: 'web', env: 'dev', fields: { key: 'API_KEY' } }, { failClosed: true });
  const [e] = events(ctx);
  assert.equal(e.ts, '2026-05-14T12:00:00Z');
  assert.equal(e.actor.cwd, '/work/project');
  assert.deepEqual([e.actor.agent_marker, e.actor.agent_source, e.actor.agent_session], ['claude', 'env:CLAUDECODE', 'sess-9']);
  assert.deepEqual([e.event, e.app, e.env, e.outcome, e.fields], ['get', 'web', 'dev', 'ok', { key: 'API_KEY' }]);
});

test('nothing but what is given reaches the log: canary values in the environment stay out', async () => {
  const canary = 'lsm-canary-7f3a9c';
  const ctx = context({
    API_KEY: canary, DATABASE_URL: `postgres://u:${canary}@db`, LSM_AGENT: 'tester', OTEL_EXPORTER_OTLP_HEADERS: canary,
    CODEX_THREAD_ID: `${canary} with spaces`,
  });
  await record(ctx, { event: 'get', app: 'web', env: 'dev', fields: { key: 'API_KEY' } }, { failClosed: true });
  await record(ctx, { event: 'exec', app: 'web', env: 'dev', fields: { keys: ['API_KEY', 'DATABASE_URL'], program: 'node' } }, { failClosed: true });
  const text = readFileSync(ctx.home.audit, 'utf8');
  assert.ok(!text.includes(canary));
  assert.ok(!text.includes('postgres://'));
});

test('a command that reveals or changes fails closed when its event cannot be written', async () => {
  const ctx = context();
  mkdirSync(ctx.home.audit); // the log path is unusable
  await assert.rejects(record(ctx, { event: 'get', fields: { key: 'K' } }, { failClosed: true }), (e: unknown) => {
    assert.ok(e instanceof LsmError);
    assert.equal(e.code, 'audit');
    assert.equal(e.message, `cannot record the audit event in ${ctx.home.audit}: it is a directory; nothing was revealed or changed`);
    // No terminal: the way round the record is not advertised to an agent or a script (#18.3).
    assert.doesNotMatch(e.hint ?? '', /on_failure/);
    return true;
  });
});

test("'audit: {on_failure: open}' turns the failure into a warning", async () => {
  const ctx = context();
  mkdirSync(ctx.home.audit);
  writeFileSync(ctx.home.config, 'env: dev\naudit:\n  on_failure: open\n');
  await record(ctx, { event: 'get' }, { failClosed: true });
  assert.match(ctx.err.join(''), /^lsm: warning: cannot record the audit event in .*: it is a directory\n$/);
});

test('a command that does not reveal or change only warns', async () => {
  const ctx = context();
  mkdirSync(ctx.home.audit);
  await record(ctx, { event: 'list' }, { failClosed: false });
  assert.equal(ctx.err.length, 1);
});

test('a home that does not exist is not created', async () => {
  const ctx = context({}, { create: false });
  await record(ctx, { event: 'get' }, { failClosed: true });
  assert.equal(existsSync(ctx.home.dir), false);
});

test('after-append hooks see each recorded row; their failures are warnings', async () => {
  const seen: AuditRow[] = [];
  let fail = false;
  onAfterAppend((_ctx, row) => {
    seen.push(row);
    if (fail) throw new Error('collector down');
  });
  const ctx = context();
  await record(ctx, { event: 'set', fields: { key: 'K' } }, { failClosed: true });
  fail = true;
  await record(ctx, { event: 'get', fields: { key: 'K' } }, { failClosed: true });
  assert.deepEqual(seen.slice(-2).map((r) => [r.seq, r.event]), [[1, 'set'], [2, 'get']]);
  assert.match(ctx.err.join(''), /warning: after recording seq 2: collector down/);
});
