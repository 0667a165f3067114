import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * How to start lsm again as a separate process (the keeper, the shipper): the real
 * path of the running bundle under Node, whatever way lsm was installed (npm link and a
 * symlink in ~/.local/bin give a bin link without an extension), or the executable
 * itself for the native build, which carries its own runtime. `nodeFlags` passes this
 * process's own Node flags on (the shipper, which runs what its command runs); the
 * keeper is started without them: a --require given to a client is not the keeper's.
 */
export function selfCommand(args: string[], opts: { nodeFlags?: boolean } = {}): [string, string[]] {
  const script = process.argv[1];
  if (process.versions.bun || script === undefined) return [process.execPath, args];
  let real: string;
  try {
    real = realpathSync(script);
  } catch {
    real = resolve(script);
  }
  return [process.execPath, [...(opts.nodeFlags ? process.execArgv : []), real, ...args]];
}
