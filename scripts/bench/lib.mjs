// Shared helpers for the benchmark suites. Figures are ratios measured in one run,
// interleaved, so that a noisy shared machine moves every candidate alike.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const LSM = join(ROOT, 'dist', 'lsm.cjs');

/** The environment a user has: without this machine's NODE_EXTRA_CA_CERTS (60-80 ms per start). */
export function benchEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  for (const k of Object.keys(env)) if (/^(CLAUDE|CODEX|CURSOR|GEMINI|OTEL_|LSM_AGENT|AI_AGENT|AGENT$)/.test(k)) delete env[k];
  return env;
}

export function tempHome(prefix = 'lsm-bench-') {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function run(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r;
}

function timeOnce(c) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.argv[0], c.argv.slice(1), { env: c.env, cwd: c.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && !c.allowFail) throw new Error(`${c.name}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs every candidate `n` times, interleaved, after `warmup` untimed rounds.
 * candidates: [{ name, argv, env?, cwd? }] → { name: medianMs }
 */
export function interleave(candidates, n = 30, warmup = 3) {
  const times = Object.fromEntries(candidates.map((c) => [c.name, []]));
  for (let i = 0; i < warmup; i++) for (const c of candidates) timeOnce(c);
  for (let i = 0; i < n; i++) for (const c of candidates) times[c.name].push(timeOnce(c));
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

/** Wall time and peak RSS (KiB) of one command, through GNU time when present. */
export function measure(argv, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { encoding: 'utf8', maxBuffer: 1 << 30, ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) {
    const t1 = process.hrtime.bigint();
    const r2 = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 30, ...opts });
    return { ms: Number(process.hrtime.bigint() - t1) / 1e6, rssKiB: undefined, status: r2.status, stdout: r2.stdout };
  }
  const lines = r.stderr.trim().split('\n');
  return { ms, rssKiB: Number(lines[lines.length - 1]), status: r.status, stdout: r.stdout };
}

export const fmt = (ms) => `${ms.toFixed(1)} ms`;
export const ratio = (a, b) => `${(a / b).toFixed(2)}x`;

// One generated 1,000,000-row log per bench run, shared by the suites that only read it
// (generating one takes about 10 s). Removed when the bench process exits.
const logs = new Map();
let logDir;

/** The path of a generated audit log (scripts/gen-audit-log.mjs); read it, never write it: copy first. */
export async function sharedAuditLog(rows, seed, start = '2026-01-01T00:00:00Z') {
  const id = `${rows}-${seed}-${start}`;
  if (logs.has(id)) return logs.get(id);
  if (!logDir) {
    logDir = realpathSync(mkdtempSync(join(tmpdir(), 'lsm-bench-log-')));
    process.on('exit', () => rmSync(logDir, { recursive: true, force: true }));
  }
  const { generateAuditLog } = await import(join(ROOT, 'scripts', 'gen-audit-log.mjs'));
  const path = join(logDir, `audit-${rows}-${seed}.jsonl`);
  generateAuditLog(path, rows, { seed, start });
  logs.set(id, path);
  return path;
}
