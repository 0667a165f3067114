import { usage } from '../errors.js';

// exec's options and whether each takes a value: they may come before the '--'.
const EXEC_OPTS: Record<string, boolean> = {
  '--only': true, '--reason': true, '--pristine': false, '--mask': false, '--no-mask': false, '--with-canaries': false,
};
const GLOBAL_OPTS: Record<string, boolean> = { '-d': true, '--dir': true, '-a': true, '--app': true, '-e': true, '--env': true };

/**
 * `lsm exec npm run dev` (no `--`) would take npm as an app and run nothing, or stop at
 * `-v` of `node -v` as an unknown option of lsm's. Caught before the parser, with the
 * command as it should have been typed.
 */
export function checkExecDash(argv: string[]): void {
  let i = 0;
  while (i < argv.length) {
    if (argv[i] in GLOBAL_OPTS) i += 2;
    else if (/^--(dir|app|env)=/.test(argv[i])) i += 1;
    else break;
  }
  if (argv[i] !== 'exec' || argv.includes('--')) return;
  const rest = argv.slice(i + 1);
  if (rest.length === 0 || rest.some((a) => a === '-h' || a === '--help')) return;
  const opts: string[] = [];
  let j = 0;
  while (j < rest.length) {
    const [name] = rest[j].split('=', 1);
    if (!(name in EXEC_OPTS)) break;
    const takes = EXEC_OPTS[name] && !rest[j].includes('=');
    opts.push(...rest.slice(j, j + (takes ? 2 : 1)));
    j += takes ? 2 : 1;
  }
  const command = rest.slice(j);
  // Two plain words may be an app and env given without a command: exec says what is
  // missing. More words, or an option after them (node -v), are a command without '--'.
  if (command.length === 0 || (command.length <= 2 && !command.some((a) => a.startsWith('-')))) return;
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const lead = argv.slice(0, i + 1).map(quote).join(' ');
  throw usage("exec needs '--' before the command", `did you mean \`lsm ${[lead, ...opts.map(quote), '--', ...command.map(quote)].join(' ')}\`? (an app and env go before the '--': lsm exec myapp dev -- ${command.map(quote).join(' ')})`);
}
