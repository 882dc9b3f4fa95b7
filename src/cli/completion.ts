import { Argument, Command, type Option } from 'commander';
import { UsageError } from '../util/errors.js';

/**
 * `onedump completion bash|zsh|fish`: a shell completion script generated from the commander tree itself, so a
 * command, flag or choice added to the CLI is completed without editing this file. The scripts are static (they
 * never run onedump while completing): commands and subcommands (aliases too), each command's flags, the choices of
 * flags declared with `.choices()` (--driver, --compression, --log-level, …), and file or folder names for flags
 * and operands that name one (-c/--config <file>, --lock-dir <dir>, `slow [path]`, …).
 */

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

type ValueKind = 'file' | 'dir' | 'choices' | 'text';

export interface OptionSpec {
  short?: string;
  long?: string;
  description: string;
  /** none: a switch; required: takes the next word (or --long=VALUE); optional values are completed as switches. */
  value: 'none' | 'required' | 'optional';
  repeatable: boolean;
  kind: ValueKind;
  choices: string[];
  valueName: string;
}

export interface CommandSpec {
  /** The canonical names from the program down, e.g. ['onedump', 'binlog', 'query']. */
  path: string[];
  description: string;
  aliases: string[];
  subcommands: CommandSpec[];
  options: OptionSpec[];
  /** What the command's operands name: files or folders complete as such, anything else completes nothing. */
  operands: 'file' | 'dir' | 'none';
}

const FILE_VALUE = /^(file|path|key|source|destination|path-or-url|dir-or-url|url|file\..+)$/;
const DIR_VALUE = /^(dir)$/;

function valueKind(name: string): 'file' | 'dir' | 'text' {
  if (DIR_VALUE.test(name)) return 'dir';
  if (FILE_VALUE.test(name)) return 'file';
  return 'text';
}

function optionSpec(o: Option): OptionSpec {
  // `<JOB.KIND[N]>` and `<host[:port]>` hold brackets: commander marks them required and optional at once.
  const m = /<(.+)>|\[(.+)\]/.exec(o.flags);
  const valueName = (m?.[1] ?? m?.[2] ?? '').replace(/\.\.\.$/, '');
  const value: OptionSpec['value'] = o.flags.includes('<') ? 'required' : o.optional ? 'optional' : 'none';
  const choices = o.argChoices ? [...o.argChoices] : [];
  return {
    short: o.short,
    long: o.long,
    description: o.description,
    value,
    repeatable: o.variadic,
    kind: value !== 'required' ? 'text' : choices.length ? 'choices' : valueKind(valueName),
    choices,
    valueName,
  };
}

const HELP: OptionSpec = {
  short: '-h',
  long: '--help',
  description: 'display help for command',
  value: 'none',
  repeatable: false,
  kind: 'text',
  choices: [],
  valueName: '',
};

/** The completion model of a command and everything under it (hidden flags and commands left out). */
export function commandSpec(cmd: Command, parent: string[] = []): CommandSpec {
  const path = [...parent, cmd.name()];
  const args: readonly Argument[] = cmd.registeredArguments;
  const kinds = args.map((a) => valueKind(a.name()));
  const operands = kinds.includes('file') ? 'file' : kinds.includes('dir') ? 'dir' : 'none';
  return {
    path,
    description: cmd.description(),
    aliases: cmd.aliases(),
    subcommands: cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => commandSpec(c, path)),
    options: [...cmd.options.filter((o) => !o.hidden).map(optionSpec), HELP],
    operands,
  };
}

function allCommands(spec: CommandSpec): CommandSpec[] {
  return [spec, ...spec.subcommands.flatMap(allCommands)];
}

const optionWords = (o: OptionSpec) => [o.short, o.long].filter((x): x is string => Boolean(x));
const firstLine = (s: string) => (s.split('\n')[0] ?? '').trim();

// ---------------------------------------------------------------- bash

/** A bash single-quoted word. */
const bq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bashScript(root: CommandSpec): string {
  const prog = root.path[0] as string;
  const fn = `_${prog.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const cmds = allCommands(root);
  const key = (c: CommandSpec) => c.path.join(' ');
  const subCases = cmds
    .filter((c) => c.subcommands.length)
    .map((c) => {
      const arms = c.subcommands.map(
        (s) => `      ${[s.path.at(-1) as string, ...s.aliases].map(bq).join('|')}) printf '%s\\n' ${bq(key(s))} ;;`,
      );
      return `    ${bq(key(c))})\n      case "$2" in\n${arms.join('\n')}\n        *) return 1 ;;\n      esac ;;`;
    });
  const wordCases = cmds.map((c) => {
    const words = [...c.subcommands.flatMap((s) => [s.path.at(-1) as string, ...s.aliases])];
    return `    ${bq(key(c))}) printf '%s\\n' ${bq(words.join(' '))} ;;`;
  });
  const optCases = cmds.map((c) => `    ${bq(key(c))}) printf '%s\\n' ${bq(c.options.flatMap(optionWords).join(' '))} ;;`);
  const valueCases: string[] = [];
  for (const c of cmds) {
    for (const o of c.options) {
      if (o.value !== 'required') continue;
      const what = o.kind === 'choices' ? `choices ${o.choices.join(' ')}` : o.kind;
      valueCases.push(
        `    ${optionWords(o)
          .map((w) => bq(`${key(c)}|${w}`))
          .join('|')}) printf '%s\\n' ${bq(what)} ;;`,
      );
    }
  }
  const operandCases = cmds.filter((c) => c.operands !== 'none').map((c) => `    ${bq(key(c))}) printf '%s\\n' ${c.operands} ;;`);
  return `# bash completion for ${prog}, generated by \`${prog} completion bash\` from the command tree.
# Load it now:     source <(${prog} completion bash)
# Or for good:     ${prog} completion bash > ~/.local/share/bash-completion/completions/${prog}

# The command a canonical path and a word lead to (aliases resolved), or nothing.
${fn}_sub() {
  case "$1" in
${subCases.join('\n')}
    *) return 1 ;;
  esac
}
${fn}_words() {
  case "$1" in
${wordCases.join('\n')}
  esac
}
${fn}_options() {
  case "$1" in
${optCases.join('\n')}
  esac
}
# What the value of a flag is: "choices A B …", file, dir or text; nothing when the flag takes no value.
${fn}_value() {
  case "$1|$2" in
${valueCases.join('\n')}
    *) return 1 ;;
  esac
}
${fn}_operands() {
  case "$1" in
${operandCases.join('\n')}
    *) printf '%s\\n' none ;;
  esac
}
${fn}_files() {
  local IFS=$'\\n'
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen "$1" -- "$2"))
}
${fn}_complete_value() {
  local what="$1" cur="$2"
  case "$what" in
    choices\\ *) COMPREPLY=($(compgen -W "\${what#choices }" -- "$cur")) ;;
    file) ${fn}_files -f "$cur" ;;
    dir) ${fn}_files -d "$cur" ;;
    *) COMPREPLY=() ;;
  esac
}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path=${bq(prog)} i w next what operand=0
  COMPREPLY=()
  # Walk the words before the cursor: a flag that takes a value skips it; the first operand picks a subcommand.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      --) operand=1 ;;
      -*)
        # --flag=VALUE: bash splits it at '=' (COMP_WORDBREAKS), so "=" and the value follow as words.
        if [[ "\${COMP_WORDS[i + 1]}" == "=" ]]; then ((i += 2)); continue; fi
        [[ "$w" == *=* ]] && continue
        ${fn}_value "$path" "$w" >/dev/null && ((i++)) ;;
      *)
        if ((operand == 0)) && next="$(${fn}_sub "$path" "$w")"; then path="$next"; else operand=1; fi ;;
    esac
  done
  # The value of the flag before the cursor: "--flag VALUE", "--flag=VALUE" (split or not at '=').
  local prev="\${COMP_WORDS[COMP_CWORD - 1]}"
  if [[ "$cur" == "=" && "$prev" == -* ]]; then
    what="$(${fn}_value "$path" "$prev")" && { ${fn}_complete_value "$what" ""; return 0; }
  fi
  if [[ "$prev" == "=" && COMP_CWORD -ge 2 ]]; then
    what="$(${fn}_value "$path" "\${COMP_WORDS[COMP_CWORD - 2]}")" && { ${fn}_complete_value "$what" "$cur"; return 0; }
  fi
  if [[ "$cur" == --*=* ]]; then
    what="$(${fn}_value "$path" "\${cur%%=*}")" && { ${fn}_complete_value "$what" "\${cur#*=}"; return 0; }
  fi
  if [[ "$prev" == -* ]] && what="$(${fn}_value "$path" "$prev")"; then
    ${fn}_complete_value "$what" "$cur"
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(${fn}_options "$path")" -- "$cur"))
    return 0
  fi
  local words kind
  ((operand == 0)) && words="$(${fn}_words "$path")"
  kind="$(${fn}_operands "$path")"
  if [[ "$kind" != none ]]; then
    ${fn}_files "$([[ "$kind" == dir ]] && echo -d || echo -f)" "$cur"
    [[ -n "$words" ]] && COMPREPLY+=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
  return 0
}
complete -F ${fn} ${prog}
`;
}

// ---------------------------------------------------------------- zsh

/** A zsh single-quoted word. */
const zq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** Text inside an _arguments [description] or a _describe entry. */
const zdesc = (s: string) =>
  firstLine(s)
    .replace(/\\/g, '\\\\')
    .replace(/([[\]:])/g, '\\$1');
const zmessage = (s: string) => s.replace(/[^A-Za-z0-9 _.=-]/g, '') || 'value';

function zshOption(o: OptionSpec): string {
  const words = optionWords(o);
  const exclusive = words.length > 1 && !o.repeatable ? `(${words.join(' ')})` : '';
  const star = o.repeatable ? '*' : '';
  let arg = '';
  if (o.value === 'required') {
    const action = o.kind === 'choices' ? `(${o.choices.join(' ')})` : o.kind === 'file' ? '_files' : o.kind === 'dir' ? '_files -/' : ' ';
    arg = `:${zmessage(o.valueName)}:${action}`;
  }
  const forms = words.map((w) => `${w}${o.value === 'required' && w.startsWith('--') ? '=' : ''}`);
  const desc = `[${zdesc(o.description)}]`;
  if (forms.length === 1) return zq(`${exclusive}${star}${forms[0]}${desc}${arg}`);
  return `${zq(`${exclusive}${star}`)}{${forms.join(',')}}${zq(`${desc}${arg}`)}`;
}

function zshFunctionName(c: CommandSpec): string {
  return `_${c.path.join('_').replace(/[^A-Za-z0-9_]/g, '_')}`;
}

function zshFunction(c: CommandSpec): string {
  const name = zshFunctionName(c);
  const specs = c.options.map(zshOption);
  const operand = c.operands === 'file' ? '_files' : c.operands === 'dir' ? '_files -/' : ' ';
  if (!c.subcommands.length) {
    if (c.operands !== 'none') specs.push(zq(`*:${c.operands}:${operand}`));
    return `${name}() {\n  _arguments -s -S \\\n    ${specs.join(' \\\n    ')}\n}`;
  }
  const entries = c.subcommands.flatMap((s) =>
    [s.path.at(-1) as string, ...s.aliases].map((w) => zq(`${w.replace(/:/g, '\\:')}:${zdesc(s.description)}`)),
  );
  const dispatch = c.subcommands.map((s) => `      ${[s.path.at(-1) as string, ...s.aliases].map(zq).join('|')}) ${zshFunctionName(s)} ;;`);
  const first =
    c.operands === 'none'
      ? `_describe -t commands ${zq(`${c.path.join(' ')} command`)} subcommands`
      : `_alternative ${zq('commands:command:{_describe -t commands command subcommands}')} ${zq(`files:${c.operands}:${operand}`)}`;
  const other = c.operands === 'none' ? '' : `\n      *) _arguments -s -S '*:${c.operands}:${operand}' ;;`;
  return `${name}() {
  local curcontext="$curcontext" state line ret=1
  local -a subcommands
  subcommands=(${entries.join(' ')})
  _arguments -C -s -S \\
    ${[...specs, zq('1: :->command'), zq('*:: :->args')].join(' \\\n    ')} && ret=0
  case $state in
    command) ${first} && ret=0 ;;
    args)
      case $words[1] in
${dispatch.join('\n')}${other}
      esac ;;
  esac
  return ret
}`;
}

function zshScript(root: CommandSpec): string {
  const prog = root.path[0] as string;
  return `#compdef ${prog}
# zsh completion for ${prog}, generated by \`${prog} completion zsh\` from the command tree.
# Load it now:     source <(${prog} completion zsh)     (after compinit)
# Or for good:     ${prog} completion zsh > "\${fpath[1]}/_${prog}"

${allCommands(root).map(zshFunction).join('\n\n')}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${zshFunctionName(root)} "$@"
else
  compdef ${zshFunctionName(root)} ${prog}
fi
`;
}

// ---------------------------------------------------------------- fish

/** A fish single-quoted word. */
const fq = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fishScript(root: CommandSpec): string {
  const prog = root.path[0] as string;
  const fn = `__${prog.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const cmds = allCommands(root);
  const key = (c: CommandSpec) => c.path.join(' ');
  const subCases = cmds.flatMap((c) =>
    c.subcommands.map(
      (s) =>
        `        case ${[s.path.at(-1) as string, ...s.aliases].map((w) => fq(`${key(c)}|${w}`)).join(' ')}\n            echo ${fq(key(s))}`,
    ),
  );
  const valueCases = cmds.flatMap((c) =>
    c.options
      .filter((o) => o.value === 'required')
      .flatMap(optionWords)
      .map((w) => fq(`${key(c)}|${w}`)),
  );
  const lines: string[] = [];
  for (const c of cmds) {
    const at = `'${fn}_at ${key(c).replace(/'/g, "\\'")}'`;
    // No file names where a command takes none (fish completes them by default).
    if (c.operands === 'none') lines.push(`complete -c ${prog} -n ${at} -f`);
    for (const s of c.subcommands) {
      for (const w of [s.path.at(-1) as string, ...s.aliases]) {
        lines.push(`complete -c ${prog} -n ${at}' && ${fn}_no_operand' -f -a ${fq(w)} -d ${fq(firstLine(s.description))}`);
      }
    }
    for (const o of c.options) {
      const parts = [`complete -c ${prog} -n ${at}`];
      if (o.short) parts.push(`-s ${o.short.slice(1)}`);
      if (o.long) parts.push(`-l ${o.long.slice(2)}`);
      if (o.value === 'required') {
        if (o.kind === 'choices') parts.push(`-x -a ${fq(o.choices.join(' '))}`);
        else if (o.kind === 'file') parts.push('-r -F');
        else if (o.kind === 'dir') parts.push(`-x -a '(__fish_complete_directories (commandline -ct))'`);
        else parts.push('-x');
      }
      parts.push(`-d ${fq(firstLine(o.description))}`);
      lines.push(parts.join(' '));
    }
  }
  return `# fish completion for ${prog}, generated by \`${prog} completion fish\` from the command tree.
# Load it now:     ${prog} completion fish | source
# Or for good:     ${prog} completion fish > ~/.config/fish/completions/${prog}.fish

function ${fn}_sub
    switch "$argv[1]|$argv[2]"
${subCases.join('\n')}
        case '*'
            return 1
    end
end

function ${fn}_takes_value
    switch "$argv[1]|$argv[2]"
        case ${valueCases.join(' ')}
            return 0
    end
    return 1
end

# The canonical command path of the words before the cursor; with -o, whether an operand was seen.
function ${fn}_path
    set -l words (commandline -opc)
    set -l path ${fq(prog)}
    set -l operand 0
    set -l skip 0
    for w in $words[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case '--'
                set operand 1
            case '--*=*'
            case '-*'
                if ${fn}_takes_value "$path" "$w"
                    set skip 1
                end
            case '*'
                set -l next (${fn}_sub "$path" "$w")
                if test $operand -eq 0 -a -n "$next"
                    set path $next
                else
                    set operand 1
                end
        end
    end
    if contains -- -o $argv
        echo $operand
    else
        echo $path
    end
end

function ${fn}_at
    test (${fn}_path) = "$argv"
end

function ${fn}_no_operand
    test (${fn}_path -o) = 0
end

${lines.join('\n')}
`;
}

export function completionScript(program: Command, shell: Shell): string {
  const root = commandSpec(program);
  if (shell === 'bash') return bashScript(root);
  if (shell === 'zsh') return zshScript(root);
  return fishScript(root);
}

export function register(program: Command): void {
  program
    .command('completion')
    .description("print a shell completion script (bash, zsh or fish) for onedump's commands, flags and their values")
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .addHelpText(
      'after',
      `
Examples:
  source <(onedump completion bash)                                       this bash session
  onedump completion bash > ~/.local/share/bash-completion/completions/onedump
  onedump completion zsh > "\${fpath[1]}/_onedump"                         zsh (then: compinit)
  onedump completion fish > ~/.config/fish/completions/onedump.fish`,
    )
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell))
        throw new UsageError(`completion: the shell is one of ${SHELLS.join(', ')} (got "${shell}").`);
      process.stdout.write(completionScript(program, shell as Shell));
    });
}
