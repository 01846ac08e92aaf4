#!/usr/bin/env node
// Entry of the sekuire-server bin: parse argv, run one command, map failures to exit codes, exit once.
import { Command, CommanderError } from 'commander';
import { defineAudit } from './commands/audit.js';
import { type CommandContext, processContext } from './commands/context.js';
import { defineCreateKey } from './commands/create-key.js';
import { defineRevokeKey } from './commands/revoke-key.js';
import { defineStart } from './commands/start.js';
import { CommandError, UsageError } from './errors.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function program(ctx: CommandContext): Command {
  const root = new Command('sekuire-server')
    .description('The Sekuire reference backend: serve the API and manage keys in a SQLite database')
    .version(__SEKUIRE_VERSION__, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)');
  // Subcommands made with .command() inherit the output and exit settings above.
  defineStart(root, ctx);
  defineCreateKey(root, ctx);
  defineRevokeKey(root, ctx);
  defineAudit(root, ctx);
  return root;
}

function exitCodeOf(error: unknown, ctx: CommandContext): number {
  if (error instanceof CommanderError) {
    // Commander has already printed the help, version or error message.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
    if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    return EXIT_USAGE;
  }
  if (error instanceof UsageError) {
    ctx.stderr.write(`error: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof CommandError) {
    ctx.stderr.write(`error: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  // A bug, not a user mistake: the stack is what a bug report needs.
  ctx.stderr.write(`sekuire-server: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT_FAILURE;
}

async function main(argv: readonly string[], ctx: CommandContext): Promise<number> {
  try {
    await program(ctx).parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    return exitCodeOf(error, ctx);
  }
}

const code = await main(process.argv.slice(2), processContext());
// Exit once stdout has drained, so a piped key or JSON is never cut short.
process.stdout.write('', () => process.exit(code));
