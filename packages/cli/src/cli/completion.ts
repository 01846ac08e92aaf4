// Shell completion scripts for bash, zsh and fish, generated from the command tree itself.
import type { Command } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Node {
  /** Words from the root, e.g. ['auth', 'test']; [] for the program itself. */
  readonly path: readonly string[];
  readonly description: string;
  readonly flags: readonly {
    readonly long: string;
    readonly takesValue: boolean;
    readonly description: string;
  }[];
  readonly children: readonly string[];
}

function walk(command: Command, path: readonly string[], into: Node[]): void {
  const visible = command.commands.filter((child) => child.name() !== 'help');
  into.push({
    path,
    description: command.description(),
    flags: [
      ...command.options
        .filter((option) => option.long !== undefined && !option.hidden)
        .map((option) => ({
          long: option.long as string,
          takesValue: option.required || option.optional,
          description: option.description,
        })),
      { long: '--help', takesValue: false, description: 'show help' },
    ],
    children: visible.flatMap((child) => [child.name(), ...child.aliases()]),
  });
  for (const child of visible) {
    walk(child, [...path, child.name()], into);
    for (const alias of child.aliases()) walk(child, [...path, alias], into);
  }
}

function quote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

function valueFlags(nodes: readonly Node[]): string {
  const flags = new Set(
    nodes.flatMap((node) => node.flags.filter((flag) => flag.takesValue).map((flag) => flag.long)),
  );
  return [...flags].join('|') || '--none';
}

function words(node: Node): string {
  return [...node.children, ...node.flags.map((flag) => flag.long)].join(' ');
}

function bash(name: string, nodes: readonly Node[]): string {
  const cases = nodes
    .map((node) => `    ${quote(node.path.join(' '))}) opts=${quote(words(node))} ;;`)
    .join('\n');
  return `# ${name} completion for bash. Load it with: source <(${name} completion bash)
_${name}_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" word i opts=""
  case "$prev" in ${valueFlags(nodes)}) return 0 ;; esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      ${valueFlags(nodes)}) i=$((i + 1)) ;;
      -*) ;;
      *) path="\${path:+$path }$word" ;;
    esac
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _${name}_complete ${name}
`;
}

function zsh(name: string, nodes: readonly Node[]): string {
  const cases = nodes.map((node) => `    ${quote(node.path.join(' '))}) opts=(${words(node)}) ;;`).join('\n');
  return `#compdef ${name}
# ${name} completion for zsh. Load it with: source <(${name} completion zsh)
_${name}_complete() {
  local -a opts
  local path_words="" word i
  case "\${words[CURRENT-1]}" in ${valueFlags(nodes)}) _default; return ;; esac
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    case "$word" in
      ${valueFlags(nodes)}) ((i++)) ;;
      -*) ;;
      *) path_words="\${path_words:+$path_words }$word" ;;
    esac
  done
  case "$path_words" in
${cases}
  esac
  compadd -- "\${opts[@]}"
}
compdef _${name}_complete ${name}
`;
}

function fish(name: string, nodes: readonly Node[]): string {
  const lines = [
    `# ${name} completion for fish. Load it with: ${name} completion fish | source`,
    `complete -c ${name} -f`,
  ];
  const all = nodes.flatMap((node) => node.children);
  for (const node of nodes) {
    const seen = node.path.map((word) => `__fish_seen_subcommand_from ${word}`);
    const deeper =
      node.children.length > 0 ? [`not __fish_seen_subcommand_from ${node.children.join(' ')}`] : [];
    const condition =
      node.path.length === 0
        ? `not __fish_seen_subcommand_from ${[...new Set(all)].join(' ')}`
        : [...seen, ...deeper].join('; and ');
    for (const child of node.children) {
      const description =
        nodes.find((other) => other.path.join(' ') === [...node.path, child].join(' '))?.description ?? '';
      lines.push(`complete -c ${name} -n ${quote(condition)} -a ${child} -d ${quote(description)}`);
    }
    for (const flag of node.flags) {
      lines.push(
        `complete -c ${name} -n ${quote(condition)} -l ${flag.long.slice(2)}${flag.takesValue ? ' -r' : ''} -d ${quote(flag.description)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell, program: Command): string {
  const nodes: Node[] = [];
  walk(program, [], nodes);
  const name = program.name();
  if (shell === 'bash') return bash(name, nodes);
  if (shell === 'zsh') return zsh(name, nodes);
  return fish(name, nodes);
}
