/**
 * `berth completion bash|zsh`: shell completion generated from the command tree itself, so it
 * knows every command, alias and flag `berth` has. The same POSIX functions drive both shells:
 * `__berth_candidates CURRENT WORD…` prints what may come next; bash feeds it to compgen, zsh to
 * compadd.
 */
import { Help, type Command } from 'commander';
import type { ClientRuntime, CommandSpec } from '../command.js';
import { CliError, missingArgs, tooManyArgs } from '../errors.js';

/** Values offered after a flag that takes one (by long name). */
const FLAG_VALUES: Record<string, string> = {
  output: "printf '%s\\n' text json",
  'sort-by': "printf '%s\\n' time size name",
  'subscription-tier': "printf '%s\\n' starter basic professional",
  context: "berth auth list 2>/dev/null | sed 's/ (current)$//'",
};

interface Node {
  path: string;
  command: Command;
}

function walk(root: Command): Node[] {
  const nodes: Node[] = [];
  const visit = (command: Command, path: string) => {
    nodes.push({ path, command });
    for (const child of command.commands) visit(child, `${path} ${child.name()}`);
  };
  visit(root, root.name());
  return nodes;
}

/** The flags a command accepts: its own and its ancestors' (global flags live on the groups). */
function flagsOf(command: Command): { words: string[]; takesValue: string[]; valueFlags: { words: string[]; long: string }[] } {
  const words: string[] = [];
  const takesValue: string[] = [];
  const valueFlags: { words: string[]; long: string }[] = [];
  for (let c: Command | null = command; c; c = c.parent) {
    // The program's own flags only apply before a subcommand.
    if (c.parent === null && c !== command) break;
    for (const option of c.options) {
      const names = [option.long, option.short].filter((n): n is string => Boolean(n));
      if (!option.hidden) words.push(...names);
      if (option.required || option.optional) {
        takesValue.push(...names);
        const long = option.long?.replace(/^--/, '');
        if (long && FLAG_VALUES[long]) valueFlags.push({ words: names, long });
      }
    }
  }
  return { words: [...new Set(words)], takesValue: [...new Set(takesValue)], valueFlags };
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

function functions(root: Command): string {
  const help = new Help();
  const nodes = walk(root);
  const child: string[] = [];
  const subcommands: string[] = [];
  const flags: string[] = [];
  const valueFlags: string[] = [];
  const values = new Map<string, string>();
  for (const { path, command } of nodes) {
    for (const sub of command.commands) {
      const patterns = [sub.name(), ...sub.aliases()].map((n) => quote(`${path} ${n}`)).join('|');
      child.push(`    ${patterns}) echo ${quote(`${path} ${sub.name()}`)} ;;`);
    }
    const visible = help.visibleCommands(command).map((c) => c.name()).filter((n) => n !== 'help');
    if (visible.length > 0) subcommands.push(`    ${quote(path)}) printf '%s\\n' ${visible.join(' ')} ;;`);
    const f = flagsOf(command);
    if (f.words.length > 0) flags.push(`    ${quote(path)}) printf '%s\\n' ${f.words.join(' ')} ;;`);
    if (f.takesValue.length > 0) valueFlags.push(`    ${quote(path)}) echo ${quote(f.takesValue.join(' '))} ;;`);
    for (const v of f.valueFlags) values.set(v.words.join('|'), FLAG_VALUES[v.long]!);
  }
  const valueCases = [...values].map(([words, command]) => `    ${words}) ${command} ;;`);
  return `__berth_child() {
  case "$1 $2" in
${child.join('\n')}
  esac
}

__berth_subcommands() {
  case "$1" in
${subcommands.join('\n')}
    'berth completion') printf '%s\\n' bash zsh ;;
  esac
}

__berth_flags() {
  case "$1" in
${flags.join('\n')}
  esac
}

__berth_value_flags() {
  case "$1" in
${valueFlags.join('\n')}
  esac
}

__berth_flag_values() {
  case "$1" in
${valueCases.join('\n')}
  esac
}

# What may follow: $1 is the word being completed, the rest are the words before it.
__berth_candidates() {
  local __berth_cur="$1" __berth_cmd='berth' __berth_flag='' __berth_word __berth_next
  shift
  for __berth_word in "$@"; do
    if [ -n "$__berth_flag" ]; then __berth_flag=''; continue; fi
    case "$__berth_word" in
      --*=*) ;;
      -*) case " $(__berth_value_flags "$__berth_cmd") " in *" $__berth_word "*) __berth_flag="$__berth_word" ;; esac ;;
      *) __berth_next=$(__berth_child "$__berth_cmd" "$__berth_word"); [ -n "$__berth_next" ] && __berth_cmd="$__berth_next" ;;
    esac
  done
  if [ -n "$__berth_flag" ]; then __berth_flag_values "$__berth_flag"; return; fi
  case "$__berth_cur" in
    -*) __berth_flags "$__berth_cmd" ;;
    *) __berth_subcommands "$__berth_cmd" ;;
  esac
}`;
}

function bashScript(root: Command): string {
  return `# bash completion for berth. Load it with:  source <(berth completion bash)
# or install it:  berth completion bash > /etc/bash_completion.d/berth
${functions(root)}

_berth() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  COMPREPLY=( $(compgen -W "$(__berth_candidates "$cur" "\${COMP_WORDS[@]:1:COMP_CWORD-1}")" -- "$cur") )
}
complete -o default -F _berth berth
`;
}

function zshScript(root: Command): string {
  return `#compdef berth
# zsh completion for berth. Load it with:  source <(berth completion zsh)
# or install it as _berth in a directory on $fpath.
${functions(root)}

_berth() {
  local -a __berth_found
  __berth_found=(\${(f)"$(__berth_candidates "\${words[CURRENT]}" "\${(@)words[2,CURRENT-1]}")"})
  compadd -- $__berth_found
}

if (( $+functions[compdef] )); then
  compdef _berth berth
fi
`;
}

export function registerCompletionCommand(rt: ClientRuntime, program: Command): Command {
  const spec: CommandSpec = {
    use: 'completion <shell>',
    short: 'Generate the autocompletion script for bash or zsh',
    async run(c) {
      if (c.args.length === 0) throw missingArgs(c.ns);
      if (c.args.length > 1) throw tooManyArgs(c.ns);
      const shell = c.args[0];
      if (shell === 'bash') c.io.stdout.write(bashScript(program));
      else if (shell === 'zsh') c.io.stdout.write(zshScript(program));
      else throw new CliError(`unsupported shell "${shell}": use bash or zsh`);
    },
  };
  return rt.add(program, spec);
}
