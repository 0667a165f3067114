import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/**
 * The file `name` runs, looked up as execvp(3) would: a name with a slash is a path;
 * otherwise the first executable regular file in PATH (an empty entry is the cwd).
 * undefined: not found; null: found but not executable.
 */
export function findOnPath(name: string, path: string, cwd: string): string | null | undefined {
  const candidates = name.includes('/') ? [resolve(cwd, name)] : path.split(delimiter).map((d) => join(isAbsolute(d) ? d : resolve(cwd, d), name));
  let denied = false;
  for (const c of candidates) {
    try {
      const st = statSync(c);
      // A path to a directory is found but cannot run (a shell says 126 too); in PATH, one is skipped.
      if (st.isDirectory() && name.includes('/')) denied = true;
      if (!st.isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      denied = true;
    }
  }
  return denied ? null : undefined;
}
