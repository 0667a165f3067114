import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LsmError } from './errors.js';

/** Where one lsm home keeps its files. Its audit log lives beside its key. */
export interface Home {
  dir: string;
  key: string;
  /** The passphrase-protected identity (age scrypt file) of a protected home. */
  keyAge: string;
  config: string;
  audit: string;
  store(app: string, env: string): string;
}

// $HOME, as os.homedir() reads it first; node:os is loaded only when HOME is unset or
// empty, which spares its load in every command (the bundles and Bun define require).
function homedir(): string {
  return process.env.HOME || (require('node:os') as typeof import('node:os')).homedir();
}

/** `--dir`, then `LSM_DIR`, then `~/.lsm`. */
export function resolveHome(flagDir: string | undefined, env: NodeJS.ProcessEnv): Home {
  const raw = flagDir || env.LSM_DIR || join(homedir(), '.lsm');
  const dir = resolve(raw.startsWith('~/') ? join(homedir(), raw.slice(2)) : raw);
  return {
    dir,
    key: join(dir, 'key.txt'),
    keyAge: join(dir, 'key.age'),
    config: join(dir, 'config.yaml'),
    audit: join(dir, 'audit.jsonl'),
    store: (app, env) => join(dir, `${app}.${env}.age`),
  };
}

/** Fails with a pointer to `lsm init` when the home does not exist yet. */
export function requireHome(ctx: { home: { dir: string } }): void {
  let isDir = false;
  try {
    isDir = statSync(ctx.home.dir).isDirectory();
  } catch { /* missing */ }
  if (!isDir) {
    throw new LsmError('key_missing', `no lsm home at ${ctx.home.dir}`, { hint: "run 'lsm init' first (or pass --dir)" });
  }
}
