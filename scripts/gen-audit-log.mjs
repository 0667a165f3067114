#!/usr/bin/env node
// Writes a large, valid audit log (chained schema-2 rows, as lsm writes them) for the
// bench: `node scripts/gen-audit-log.mjs OUT ROWS [--seed N] [--start RFC3339]`.
// Self-contained (no build needed); test/audit-gen.test.ts checks that lsm verifies
// what it writes, so the two encodings cannot drift apart unnoticed.
import { closeSync, openSync, writeSync } from 'node:fs';
import * as crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';

const sha256 = crypto.hash
  ? (s) => crypto.hash('sha256', s, 'hex')
  : (s) => crypto.createHash('sha256').update(s).digest('hex');

// A small deterministic PRNG (mulberry32), so a seed gives the same file every time;
// test/crash.test.ts draws its kill schedule from it too.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EVENTS = ['get', 'get', 'get', 'exec', 'list', 'set', 'dump', 'delete', 'import', 'edit'];
const KEYS = ['API_KEY', 'DB_URL', 'STRIPE_SECRET', 'AWS_ACCESS_KEY_ID', 'SENTRY_DSN', 'JWT_SECRET'];
const APPS = ['myapp', 'billing', 'web'];
const ENVS = ['dev', 'staging', 'prod'];
const ACTORS = [
  { agent: 'claude', source: 'env:CLAUDECODE', vars: ['CLAUDECODE'], chain: ['bash', 'claude'], tty: '' },
  { agent: 'codex', source: 'env:CODEX_THREAD_ID', vars: ['CODEX_THREAD_ID'], chain: ['bash', 'codex'], tty: '' },
  { agent: '', source: '', vars: [], chain: ['zsh', 'tmux: server'], tty: '/dev/pts/3' },
  { agent: 'aider', source: 'ancestry', vars: [], chain: ['bash', 'aider'], tty: '/dev/pts/7' },
  { agent: '', source: '', vars: [], chain: ['cron'], tty: '' },
];

const pick = (r, a) => a[Math.floor(r() * a.length)];
const q = (s) => JSON.stringify(s); // ASCII without < > &: identical to Go's encoding

function tsOf(ms) {
  return new Date(ms).toISOString().replace(/\.?0*Z$/, 'Z');
}

function row(r, seq, ms, prev) {
  const event = pick(r, EVENTS);
  const a = pick(r, ACTORS);
  const ppid = 1000 + Math.floor(r() * 60000);
  const start = tsOf(ms - 3600_000);
  const ancestry = a.chain
    .map((comm, i) => `{"pid":${ppid - i * 7},"comm":${q(comm)},"start":${q(start)}}`)
    .join(',');
  let actor = `{"ppid":${ppid},"parent_comm":${q(a.chain[0])},"tty":${q(a.tty)},"cwd":"/home/u/${pick(r, APPS)}","agent_marker":${q(a.agent)},"uid":1000,"pid":${ppid + 1}`;
  if (a.source) actor += `,"agent_source":${q(a.source)}`;
  if (a.agent && a.source.startsWith('env:')) actor += `,"agent_session":"${Math.floor(r() * 1e12).toString(16)}-sess"`;
  if (a.vars.length) actor += `,"agent_vars":[${a.vars.map(q).join(',')}]`;
  actor += `,"ancestry":[${ancestry}]}`;
  const fields =
    event === 'list' ? `{"count":${Math.floor(r() * 40)}}`
    : event === 'exec' ? `{"keys":${Math.floor(r() * 40)},"program":"npm"}`
    : event === 'import' ? `{"count":2,"keys":["API_KEY","DB_URL"]}`
    : `{"key":${q(pick(r, KEYS))}}`;
  const outcome = r() < 0.03 ? 'error' : r() < 0.01 ? 'denied' : 'ok';
  const head = `{"schema_version":2,"seq":${seq},"ts":${q(tsOf(ms))},"event":${q(event)},"app":${q(pick(r, APPS))},"env":${q(pick(r, ENVS))},"outcome":${q(outcome)},"actor":${actor},"fields":${fields},"prev":${q(prev)},"hash":"`;
  const hash = sha256(`${prev}${head}"}`);
  return { line: `${head}${hash}"}\n`, hash };
}

/** Writes `rows` chained rows to `path` (replacing it); returns the last hash. */
export function generateAuditLog(path, rows, { seed = 1, start } = {}) {
  const r = rng(seed);
  let ms = start ? Date.parse(start) : Date.now() - rows * 1000;
  let prev = '0'.repeat(64);
  const fd = openSync(path, 'w', 0o600);
  try {
    let batch = [];
    let size = 0;
    for (let seq = 1; seq <= rows; seq++) {
      ms += Math.floor(r() * 1000) + 1;
      const out = row(r, seq, ms, prev);
      prev = out.hash;
      batch.push(out.line);
      size += out.line.length;
      if (size > 8 * 1024 * 1024) {
        writeSync(fd, batch.join(''));
        batch = [];
        size = 0;
      }
    }
    if (batch.length) writeSync(fd, batch.join(''));
  } finally {
    closeSync(fd);
  }
  return prev;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const seed = Number(opt('--seed') ?? 1);
  const start = opt('--start');
  const [out, count] = args;
  if (!out || !count || !/^\d+$/.test(count)) {
    process.stderr.write('usage: node scripts/gen-audit-log.mjs OUT ROWS [--seed N] [--start RFC3339]\n');
    process.exit(2);
  }
  const t = Date.now();
  generateAuditLog(out, Number(count), { seed, start });
  process.stderr.write(`wrote ${count} rows to ${out} in ${Date.now() - t} ms\n`);
}
