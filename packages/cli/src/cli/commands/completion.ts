// sekuire completion bash|zsh|fish: prints a completion script to load in the user's shell.
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';
import { helpFooter } from '../help.js';
import type { CompletionResult } from '../results.js';
import type { Schedule } from './types.js';

export function register(program: Command, schedule: Schedule): void {
  program
    .command('completion')
    .description('Print a shell completion script (bash, zsh or fish)')
    .argument('<shell>', `one of: ${SHELLS.join(', ')}`)
    .option('--json', 'print {"script"} as JSON')
    .addHelpText(
      'after',
      helpFooter(
        [
          'source <(sekuire completion bash)        # add to ~/.bashrc',
          'source <(sekuire completion zsh)         # add to ~/.zshrc',
          'sekuire completion fish > ~/.config/fish/completions/sekuire.fish',
        ],
        [],
      ),
    )
    .action((shell: string) => schedule(async () => completion(shell, program)));
}

export function completion(shell: string, program: Command): CompletionResult {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new UsageError(`Unknown shell "${shell}": choose one of ${SHELLS.join(', ')}.`, 'unknown_shell');
  }
  return { kind: 'completion', script: completionScript(shell as Shell, program).trimEnd() };
}
