import { realpathSync } from 'node:fs';

/**
 * How to start lsm again as a separate process (the keeper, the shipper): the real
 * path of the running bundle under Node, whatever way lsm was installed (npm link and a
 * symlink in ~/.local/bin give a bin link without an extension), or the executable
 * itself for the native build, which carries its own runtime.
 */
export function selfCommand(args: string[]): [string, string[]] {
  if (process.versions.bun) return [process.execPath, args];
  const script = process.argv[1];
  let real = script;
  try {
    real = realpathSync(script);
  } catch { /* as given */ }
  return [process.execPath, [real, ...args]];
}
