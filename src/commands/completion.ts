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
  const commands = program.commands.filter((c) => !c.name().startsWith('__')).map((c) => c.name());
  const flags = ['--dir', '--app', '--env', '--help', '--version'];
  const script =
    shell === 'bash' ? bash(commands, flags)
    : shell === 'zsh' ? zsh(commands, flags)
    : shell === 'fish' ? fish(program)
    : undefined;
  if (!script) throw usage(`unknown shell ${JSON.stringify(shell ?? '')}`, 'lsm completion bash|zsh|fish');
  ctx.stdout.write(script);
  return 0;
}

function bash(commands: string[], flags: string[]): string {
  return `# lsm completion for bash: source <(lsm completion bash)
_lsm() {
  local cur prev words cword
  cur="\${COMP_WORDS[COMP_CWORD]}"; prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
    -a|--app) COMPREPLY=($(compgen -W "$(lsm __complete apps 2>/dev/null)" -- "$cur")); return;;
    -e|--env) COMPREPLY=($(compgen -W "$(lsm __complete envs 2>/dev/null)" -- "$cur")); return;;
    -d|--dir) COMPREPLY=($(compgen -d -- "$cur")); return;;
  esac
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.join(' ')}" -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "${flags.join(' ')}" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(lsm __complete apps 2>/dev/null) $(lsm __complete envs 2>/dev/null)" -- "$cur"))
  fi
}
complete -F _lsm lsm
`;
}

function zsh(commands: string[], flags: string[]): string {
  return `#compdef lsm
# lsm completion for zsh: source <(lsm completion zsh)
_lsm() {
  if (( CURRENT == 2 )); then
    compadd -- ${commands.join(' ')}
  elif [[ \${words[CURRENT-1]} == (-a|--app) ]]; then
    compadd -- \${(f)"$(lsm __complete apps 2>/dev/null)"}
  elif [[ \${words[CURRENT-1]} == (-e|--env) ]]; then
    compadd -- \${(f)"$(lsm __complete envs 2>/dev/null)"}
  elif [[ \${words[CURRENT]} == -* ]]; then
    compadd -- ${flags.join(' ')}
  else
    compadd -- \${(f)"$(lsm __complete apps 2>/dev/null)"} \${(f)"$(lsm __complete envs 2>/dev/null)"}
  fi
}
compdef _lsm lsm
`;
}

function fish(program: Command): string {
  const lines = ['# lsm completion for fish: lsm completion fish | source', 'complete -c lsm -f'];
  for (const c of program.commands) {
    if (c.name().startsWith('__')) continue;
    lines.push(`complete -c lsm -n __fish_use_subcommand -a ${c.name()} -d ${JSON.stringify(c.description().split('\n')[0])}`);
  }
  lines.push(`complete -c lsm -s a -l app -x -a '(lsm __complete apps 2>/dev/null)' -d 'app name'`);
  lines.push(`complete -c lsm -s e -l env -x -a '(lsm __complete envs 2>/dev/null)' -d 'environment'`);
  lines.push(`complete -c lsm -s d -l dir -r -d 'lsm home'`);
  return `${lines.join('\n')}\n`;
}
