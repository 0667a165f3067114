import type { Command } from 'commander';
import { usage } from '../errors.js';
import type { Context } from '../context.js';

/**
 * Shell completion scripts. Command and flag names come from the program itself;
 * app and env names are asked of lsm at completion time (`lsm __complete apps|envs`),
 * so the scripts never go stale.
 */
export async function run(ctx: Context, args: string[], _opts: unknown, cmd: Command): Promise<number> {
  const shell = args[0];
  const program = cmd.parent as Command;
  const visible = program.commands.filter((c) => !c.name().startsWith('__'));
  const commands = visible.map((c) => c.name());
  // audit, canary, gh: their own subcommands come second on the line.
  const subs = visible.filter((c) => c.commands.length > 0).map((c) => [c.name(), c.commands.map((s) => s.name())] as const);
  const flags = ['--dir', '--app', '--env', '--help', '--version'];
  const own = ownFlags(visible);
  const script =
    shell === 'bash' ? bash(commands, subs, flags, own)
    : shell === 'zsh' ? zsh(commands, subs, flags, own)
    : shell === 'fish' ? fish(program)
    : undefined;
  if (!script) throw usage(`unknown shell ${JSON.stringify(shell ?? '')}`, 'lsm completion bash|zsh|fish');
  ctx.stdout.write(script);
  return 0;
}

type Subs = ReadonlyArray<readonly [string, string[]]>;
/** Per command (its aliases included): its own long flags and its subcommands'. */
type Own = ReadonlyArray<readonly [string[], string[]]>;

// Commands whose next word may be a key name of the resolved store.
const KEYED = ['get', 'delete', 'rm', 'set'];

function ownFlags(commands: Command[]): Own {
  const out: Array<readonly [string[], string[]]> = [];
  for (const c of commands) {
    const names = new Set<string>();
    for (const cmd of [c, ...c.commands]) for (const o of cmd.options) if (o.long) names.add(o.long);
    if (names.size > 0) out.push([[c.name(), ...c.aliases()], [...names]]);
  }
  return out;
}

// Names come from lsm with the --dir given on the line, if any, so a second home completes its own names.
function bash(commands: string[], subs: Subs, flags: string[], own: Own): string {
  const cases = subs.map(([c, list]) => `      ${c}) COMPREPLY=($(compgen -W "${list.join(' ')}" -- "$cur")); return;;`).join('\n');
  const flagCases = own.map(([names, list]) => `      ${names.join('|')}) COMPREPLY=($(compgen -W "${[...new Set([...list, ...flags])].join(' ')}" -- "$cur")); return;;`).join('\n');
  return `# lsm completion for bash: source <(lsm completion bash)
_lsm() {
  local cur prev i
  local -a dir=()
  cur="\${COMP_WORDS[COMP_CWORD]}"; prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      -d|--dir) dir=(--dir "\${COMP_WORDS[i+1]}");;
      --dir=*) dir=("\${COMP_WORDS[i]}");;
    esac
  done
  case "$prev" in
    -a|--app) COMPREPLY=($(compgen -W "$(lsm "\${dir[@]}" __complete apps 2>/dev/null)" -- "$cur")); return;;
    -e|--env) COMPREPLY=($(compgen -W "$(lsm "\${dir[@]}" __complete envs 2>/dev/null)" -- "$cur")); return;;
    -d|--dir) COMPREPLY=($(compgen -d -- "$cur")); return;;
  esac
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.join(' ')}" -- "$cur")); return
  fi
  if [ "$COMP_CWORD" -eq 2 ]; then
    case "\${COMP_WORDS[1]}" in
${cases}
    esac
  fi
  if [[ "$cur" == -* ]]; then
    case "\${COMP_WORDS[1]}" in
${flagCases}
    esac
    COMPREPLY=($(compgen -W "${flags.join(' ')}" -- "$cur"))
  else
    case "\${COMP_WORDS[1]}" in
      ${KEYED.join('|')}) COMPREPLY=($(compgen -W "$(lsm "\${dir[@]}" __complete keys -- "\${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)" -- "$cur")); return;;
    esac
    COMPREPLY=($(compgen -W "$(lsm "\${dir[@]}" __complete apps 2>/dev/null) $(lsm "\${dir[@]}" __complete envs 2>/dev/null)" -- "$cur"))
  fi
}
complete -F _lsm lsm
`;
}

function zsh(commands: string[], subs: Subs, flags: string[], own: Own): string {
  const cases = subs.map(([c, list]) => `      (${c}) compadd -- ${list.join(' ')}; return;;`).join('\n');
  const flagCases = own.map(([names, list]) => `      (${names.join('|')}) compadd -- ${[...new Set([...list, ...flags])].join(' ')}; return;;`).join('\n');
  return `#compdef lsm
# lsm completion for zsh: source <(lsm completion zsh)
_lsm() {
  local -a dir
  local i=\${words[(i)(-d|--dir)]}
  (( i < CURRENT - 1 )) && dir=(--dir "\${words[i+1]}")
  if (( CURRENT == 2 )); then
    compadd -- ${commands.join(' ')}; return
  fi
  if (( CURRENT == 3 )); then
    case \${words[2]} in
${cases}
    esac
  fi
  if [[ \${words[CURRENT-1]} == (-a|--app) ]]; then
    compadd -- \${(f)"$(lsm $dir __complete apps 2>/dev/null)"}
  elif [[ \${words[CURRENT-1]} == (-e|--env) ]]; then
    compadd -- \${(f)"$(lsm $dir __complete envs 2>/dev/null)"}
  elif [[ \${words[CURRENT]} == -* ]]; then
    case \${words[2]} in
${flagCases}
    esac
    compadd -- ${flags.join(' ')}
  elif [[ \${words[2]} == (${KEYED.join('|')}) ]]; then
    compadd -- \${(f)"$(lsm $dir __complete keys -- \${words[2,CURRENT-1]} 2>/dev/null)"}
  else
    compadd -- \${(f)"$(lsm $dir __complete apps 2>/dev/null)"} \${(f)"$(lsm $dir __complete envs 2>/dev/null)"}
  fi
}
compdef _lsm lsm
`;
}

// Single quotes: fish expands $VAR inside double quotes (edit's description names $EDITOR).
const fishQuote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fish(program: Command): string {
  const lines = ['# lsm completion for fish: lsm completion fish | source', 'complete -c lsm -f'];
  for (const c of program.commands) {
    if (c.name().startsWith('__')) continue;
    lines.push(`complete -c lsm -n __fish_use_subcommand -a ${c.name()} -d ${fishQuote(c.description().split('\n')[0])}`);
    for (const sub of c.commands) {
      lines.push(`complete -c lsm -n '__fish_seen_subcommand_from ${c.name()}' -a ${sub.name()} -d ${fishQuote(sub.description().split('\n')[0])}`);
    }
    for (const cmd of [c, ...c.commands]) {
      for (const o of cmd.options) {
        if (!o.long || o.long === '--help') continue;
        lines.push(`complete -c lsm -n '__fish_seen_subcommand_from ${[c.name(), ...c.aliases()].join(' ')}' -l ${o.long.slice(2)}${o.required || o.optional ? ' -r' : ''} -d ${fishQuote(o.description)}`);
      }
    }
  }
  lines.push(`complete -c lsm -n '__fish_seen_subcommand_from ${KEYED.join(' ')}' -a '(lsm __complete keys -- (commandline -opc)[2..] 2>/dev/null)' -d 'key'`);
  lines.push(`complete -c lsm -s a -l app -x -a '(lsm __complete apps 2>/dev/null)' -d 'app name'`);
  lines.push(`complete -c lsm -s e -l env -x -a '(lsm __complete envs 2>/dev/null)' -d 'environment'`);
  lines.push(`complete -c lsm -s d -l dir -r -d 'lsm home'`);
  return `${lines.join('\n')}\n`;
}
