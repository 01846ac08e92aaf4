// The footer every command's --help ends with: examples, then the exit codes it can return (from errors.ts).
import { EXIT_CODES, type ExitName } from '../core/errors.js';

export const ALL_EXIT_CODES = Object.keys(EXIT_CODES) as ExitName[];

/** Every command can meet a bad flag (2); only these are added per command. */
export function helpFooter(examples: readonly string[], codes: readonly ExitName[], extra = ''): string {
  const names: ExitName[] = ['ok', 'usage', ...codes.filter((name) => name !== 'ok' && name !== 'usage')];
  const sorted = names.sort((a, b) => EXIT_CODES[a].code - EXIT_CODES[b].code);
  const width = Math.max(...sorted.map((name) => String(EXIT_CODES[name].code).length));
  return [
    '',
    'Examples:',
    ...examples.map((line) => `  $ ${line}`),
    '',
    'Exit codes:',
    ...sorted.map(
      (name) => `  ${String(EXIT_CODES[name].code).padStart(width)}  ${EXIT_CODES[name].meaning}`,
    ),
    ...(extra ? ['', extra] : []),
  ].join('\n');
}
