import { realpathSync } from 'node:fs';
import { resolveHome, type Home } from './home.js';
import { Output } from './term/output.js';
import type { ProjectChoice } from './resolve.js';

/**
 * What a command runs against: the home, the global flags, the process's streams and
 * environment, and the clock. Only tests replace the clock, through `main`'s
 * parameter; no environment variable can move it.
 */
export interface Context {
  home: Home;
  flags: { app?: string; env?: string; dir?: string };
  /** Symlink-resolved working directory, so registry paths match. */
  cwd: string;
  env: NodeJS.ProcessEnv;
  now(): Date;
  /** process.stdin, created on first use. */
  readonly stdin: NodeJS.ReadStream;
  stdout: Output;
  stderr: Output;
  /** The raw argv after `node lsm`, for commands that must see `--` themselves. */
  argv: string[];
  /** Inside the keeper: what the kernel said of the caller, recorded with each of its events. */
  peer?: Record<string, unknown>;
  /** Set by resolveTarget when `.lsm.yaml` chose the app or env: recorded in the events. */
  project?: ProjectChoice;
}

export interface ContextOverrides {
  now?: () => Date;
}

function realCwd(): string {
  try {
    return realpathSync(process.cwd());
  } catch {
    return process.cwd();
  }
}

export function makeContext(flags: Context['flags'], argv: string[], overrides: ContextOverrides = {}): Context {
  return {
    home: resolveHome(flags.dir, process.env),
    flags,
    cwd: realCwd(),
    env: process.env,
    now: overrides.now ?? (() => new Date()),
    get stdin() {
      return process.stdin;
    },
    stdout: new Output(1),
    stderr: new Output(2),
    argv,
  };
}
