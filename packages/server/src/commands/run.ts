// One sekuire-server command, start to finish: parse argv, run the command, map failures to exit codes.
import { Command, CommanderError } from 'commander';
import { defineAudit } from './audit.js';
import { type CommandContext, OutputError } from './context.js';
import { defineCreateKey } from './create-key.js';
import { defineCreateUser } from './create-user.js';
import { CommandError, UsageError } from './errors.js';
import { defineListKeys } from './list-keys.js';
import { defineRemoveUser } from './remove-user.js';
import { defineRevokeKey } from './revoke-key.js';
import { defineRotateSecret } from './rotate-secret.js';
import { defineStart } from './start.js';
import { defineUnbind } from './unbind.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function program(ctx: CommandContext): Command {
  const root = new Command('sekuire-server')
    .description('The Sekuire reference backend: serve the API and manage keys, on SQLite or PostgreSQL')
    .version(__SEKUIRE_VERSION__, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void ctx.stdout.write(text).catch(() => {}),
      writeErr: (text) => void ctx.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)');
  // Subcommands made with .command() inherit the output and exit settings above.
  defineStart(root, ctx);
  defineCreateKey(root, ctx);
  defineCreateUser(root, ctx);
  defineRemoveUser(root, ctx);
  defineRevokeKey(root, ctx);
  defineUnbind(root, ctx);
  defineListKeys(root, ctx);
  defineAudit(root, ctx);
  defineRotateSecret(root, ctx);
  return root;
}

async function exitCodeOf(error: unknown, ctx: CommandContext): Promise<number> {
  if (error instanceof CommanderError) {
    // Commander has already printed the help, version or error message.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
    if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    return EXIT_USAGE;
  }
  if (error instanceof UsageError) {
    await ctx.stderr.write(`error: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof CommandError) {
    await ctx.stderr.write(`error: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  if (error instanceof OutputError) {
    // A reader that closed the pipe (`| head -1`) chose to stop reading: nothing to report.
    if (error.code === 'EPIPE') return EXIT_OK;
    await ctx.stderr.write(`error: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  // A bug, not a user mistake: the stack is what a bug report needs.
  await ctx.stderr.write(`sekuire-server: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT_FAILURE;
}

/**
 * Runs one command with `argv` as process.argv has it (node, script, then the arguments) and
 * resolves with its exit code once every write has been handed over; never exits, never throws.
 */
export async function run(ctx: CommandContext, argv: readonly string[]): Promise<number> {
  try {
    await program(ctx).parseAsync(argv.slice(2), { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    return await exitCodeOf(error, ctx);
  }
}
