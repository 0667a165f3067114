import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after } from 'node:test';

/** The binary under test: the Node bundle by default, or LSM_BIN (e.g. the native build). */
export const LSM_BIN = resolve(process.env.LSM_BIN ?? 'dist/lsm.cjs');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for a child lsm: no agent markers or OTEL settings leak in from the test runner. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(CLAUDE|CODEX|CURSOR|GEMINI|COPILOT|CLINE|GOOSE|OPENCODE|AMP_|AGENT|AI_AGENT|AIDER|CONTINUE|OPENHANDS|LSM_|OTEL_|NO_COLOR|ZED_|OZ_|CRUSH|AUGMENT|PI_CODING|QWEN|JUNIE|ANTIGRAVITY|REPL)/.test(k)) continue;
    if (k === 'TERM_PROGRAM' || k === 'NODE_OPTIONS' || k === 'BUN_OPTIONS' || k === 'BUN_BE_BUN') continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface RunOptions {
  home?: string;
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeout?: number;
}

export function lsm(args: string[], opts: RunOptions = {}): RunResult {
  const env = cleanEnv({ ...(opts.home ? { LSM_DIR: opts.home } : {}), ...opts.env });
  const isNode = LSM_BIN.endsWith('.cjs') || LSM_BIN.endsWith('.js');
  const spawnOpts: SpawnSyncOptions = {
    env,
    cwd: opts.cwd,
    input: opts.input ?? '',
    timeout: opts.timeout ?? 30000,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  };
  const r = isNode
    ? spawnSync(process.execPath, [LSM_BIN, ...args], spawnOpts)
    : spawnSync(LSM_BIN, args, spawnOpts);
  return { code: r.status, signal: r.signal, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** The argv prefix that runs the binary under test, for spawn() in async tests. */
export function lsmCommand(): [string, string[]] {
  const isNode = LSM_BIN.endsWith('.cjs') || LSM_BIN.endsWith('.js');
  return isNode ? [process.execPath, [LSM_BIN]] : [LSM_BIN, []];
}

/** Whether anything is at `path`, a dangling symbolic link (as a lock is) included. */
export function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A throwaway directory, removed when the test file ends. */
export function tempDir(prefix = 'lsm-test-'): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh, initialised lsm home with a default env of `dev`. */
export function initHome(): string {
  const home = join(tempDir('lsm-home-'), 'home');
  const r = lsm(['init'], { home });
  if (r.code !== 0) throw new Error(`lsm init failed: ${r.stderr}`);
  return home;
}

/** A canary value must never reach the audit log of `home`, nor any of `outputs`. */
export function assertNoLeak(canary: string, home: string, ...outputs: string[]): void {
  const log = join(home, 'audit.jsonl');
  if (existsSync(log) && readFileSync(log, 'utf8').includes(canary)) throw new Error('canary value in the audit log');
  for (const o of outputs) if (o.includes(canary)) throw new Error('canary value in output');
}
