/**
 * `lsm get` sits inside `$(...)` in scripts, so its plain forms are parsed here by hand
 * and run without commander and the command tree: this module and what it imports are
 * all that the launcher loads for them (dist/lsm-get.cjs, and dist/lsm-local.cjs for
 * an unprotected home). Anything else, including a flag this parser does not know, is
 * for program.ts.
 */
const GLOBAL = new Map([['-d', 'dir'], ['--dir', 'dir'], ['-a', 'app'], ['--app', 'app'], ['-e', 'env'], ['--env', 'env']]);

export function parseFastGet(argv: string[]): { flags: Record<string, string>; args: string[] } | undefined {
  const flags: Record<string, string> = {};
  const args: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = GLOBAL.get(eq > 0 && a.startsWith('--') ? a.slice(0, eq) : a);
    if (name) {
      const value = eq > 0 && a.startsWith('--') ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || flags[name] !== undefined) return undefined;
      flags[name] = value;
    } else if (a.startsWith('-')) {
      return undefined;
    } else if (command === undefined) {
      if (a !== 'get') return undefined;
      command = a;
    } else {
      args.push(a);
    }
  }
  return command ? { flags, args } : undefined;
}
