#!/usr/bin/env node
// The sekuire bin: parse argv, run one command, print its result, exit once with the code of CLI.md.
import type { Command, CommanderError } from 'commander';
import { ExitCode, SekuireError, UsageError } from '../core/errors.js';
import type { Task } from './commands/types.js';
import { type Context, processContext } from './context.js';
import { redactKeys, renderError, renderResult } from './output.js';

const VERSION = __SEKUIRE_VERSION__;

/** Commander and every command file, built only when argv needs more than --version. */
async function buildProgram(schedule: (task: Task) => void, errors: string[]): Promise<Command> {
  const [
    { Command: CommandClass },
    login,
    logout,
    status,
    whoami,
    token,
    authTest,
    completion,
    { helpFooter },
  ] = await Promise.all([
    import('commander'),
    import('./commands/login.js'),
    import('./commands/logout.js'),
    import('./commands/status.js'),
    import('./commands/whoami.js'),
    import('./commands/token.js'),
    import('./commands/auth-test.js'),
    import('./commands/completion.js'),
    import('./help.js'),
  ]);
  const program = new CommandClass('sekuire');
  program
    .description('Sekuire: device-bound API keys. Log in once; check status before every job.')
    .version(VERSION, '-V, --version', 'print the version')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      helpFooter(
        [
          'sekuire login',
          'sekuire status',
          'sekuire auth whoami',
          'printf \'%s\' "$KEY" | sekuire login --with-key',
        ],
        [0, 1, 2, 10, 11, 12, 13, 14, 15, 130],
        'Environment: SEKUIRE_API_KEY, SEKUIRE_HOME, SEKUIRE_BACKEND_URL, SEKUIRE_WEB_URL, SEKUIRE_MACHINE_ID,\nSEKUIRE_TIMEOUT, SEKUIRE_CONNECT_TIMEOUT, SEKUIRE_RETRIES, HTTPS_PROXY, NO_PROXY (see the README).',
      ),
    );
  login.register(program, schedule);
  logout.register(program, schedule);
  status.register(program, schedule);
  whoami.register(program, schedule, 'whoami', 'sekuire whoami');
  const auth = program
    .command('auth')
    .description('Inspect and use the key in use: whoami, token, test')
    .addHelpText(
      'after',
      helpFooter(
        ['sekuire auth whoami', 'sekuire auth token', 'sekuire auth test --verbose'],
        [0, 2, 10, 11, 12, 13, 14, 15],
      ),
    )
    .helpCommand(false);
  whoami.register(auth, schedule, 'whoami', 'sekuire auth whoami');
  token.register(auth, schedule);
  authTest.register(auth, schedule);
  completion.register(program, schedule);

  // Commander's own messages become UsageErrors, rendered (and redacted) like every other error.
  const configure = (command: Command) => {
    command.exitOverride().configureOutput({ outputError: (text) => errors.push(text.trim()) });
    for (const child of command.commands) configure(child);
  };
  configure(program);
  return program;
}

function usageFromCommander(error: CommanderError, messages: readonly string[]): UsageError {
  const text = (messages.join(' ') || error.message).replace(/^error: /, '');
  const message = `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
  // The message is redacted on output, but the key already sits in shell history.
  const exposed = /sk_(live|test)_[0-9A-Za-z]{7,}/.test(text)
    ? "\nThat argument looks like an API key: keys on the command line end up in shell history, so consider it exposed (revoke it and create a new one). Pipe keys to 'sekuire login --with-key' instead."
    : '';
  return new UsageError(`${message}${exposed}\nRun 'sekuire --help' for usage.`, 'usage');
}

function write(stream: NodeJS.WritableStream | Context['stdout'], text: string): Promise<void> {
  if (text === '') return Promise.resolve();
  return new Promise((resolve) => {
    stream.write(text, () => resolve());
  });
}

async function run(ctx: Context, argv: readonly string[]): Promise<number> {
  const args = argv.slice(2);
  // The fast path: no commander, no command files.
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    await write(ctx.stdout, `${VERSION}\n`);
    return ExitCode.ok;
  }
  const asJson = args.includes('--json');
  let task: Task | undefined;
  const commanderErrors: string[] = [];
  try {
    const program = await buildProgram((scheduled) => {
      task = scheduled;
    }, commanderErrors);
    if (args.length === 0) {
      await write(ctx.stderr, program.helpInformation());
      return ExitCode.usage;
    }
    try {
      await program.parseAsync(argv as string[]);
    } catch (error) {
      const commanderError = error as CommanderError;
      if (commanderError.code === 'commander.helpDisplayed' || commanderError.code === 'commander.version') {
        return ExitCode.ok;
      }
      // `sekuire help` exits 0; a command group without its subcommand (`sekuire auth`) is usage.
      if (commanderError.code === 'commander.help')
        return commanderError.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      if (typeof commanderError.code === 'string' && commanderError.code.startsWith('commander.')) {
        throw usageFromCommander(commanderError, commanderErrors);
      }
      throw error;
    }
    if (!task) return ExitCode.usage;
    const result = await task(ctx);
    await write(ctx.stdout, renderResult(result, asJson));
    return ExitCode.ok;
  } catch (error) {
    const known =
      error instanceof SekuireError
        ? error
        : new SekuireError(
            'internal_error',
            `Unexpected error: ${error instanceof Error ? error.message : String(error)}\nThis is a bug in sekuire; please report it (set SEKUIRE_DEBUG=1 for details).`,
            ExitCode.bug,
          );
    if (!(error instanceof SekuireError) && ctx.env.SEKUIRE_DEBUG) {
      await write(
        ctx.stderr,
        `${redactKeys(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`,
      );
    }
    const rendered = renderError(known, asJson);
    await write(ctx.stdout, rendered.stdout);
    await write(ctx.stderr, rendered.stderr);
    return known.exitCode;
  }
}

function main(): void {
  // A closed pipe (`sekuire status | head -0`) is the reader's choice, not our failure.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  process.on('SIGINT', () => {
    process.stderr.write('\nInterrupted\n');
    process.exit(ExitCode.interrupted);
  });
  run(processContext(), process.argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${redactKeys(String(error))}\n`);
      process.exit(ExitCode.bug);
    },
  );
}

main();
