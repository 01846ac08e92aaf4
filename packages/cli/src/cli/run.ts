// One command, start to finish: parse argv, run the command, render its result or error; returns the exit code.
import type { Command, CommanderError } from 'commander';
import { ExitCode, SekuireError, UsageError } from '../core/errors.js';
import { looksLikeKey, redactKeys } from '../core/redact.js';
import type { Task } from './commands/types.js';
import type { Context, OutStream } from './context.js';
import { renderError, renderResult } from './output.js';

const VERSION = typeof __SEKUIRE_VERSION__ === 'string' ? __SEKUIRE_VERSION__ : '0.0.0-dev';

/** What commander would print: help for stdout or stderr, and its error messages. */
interface Sink {
  out: string;
  err: string;
  readonly errors: string[];
}

/** Commander and every command file, built only when argv needs more than --version. */
async function buildProgram(schedule: (task: Task) => void, sink: Sink): Promise<Command> {
  const [
    { Command: CommandClass },
    login,
    logout,
    status,
    whoami,
    token,
    authTest,
    config,
    completion,
    help,
  ] = await Promise.all([
    import('commander'),
    import('./commands/login.js'),
    import('./commands/logout.js'),
    import('./commands/status.js'),
    import('./commands/whoami.js'),
    import('./commands/token.js'),
    import('./commands/auth-test.js'),
    import('./commands/config.js'),
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
      help.helpFooter(
        [
          'sekuire login',
          'sekuire status',
          'sekuire auth whoami',
          'printf \'%s\' "$KEY" | sekuire login --with-key',
          'sekuire config set backend https://sekuire.internal.example',
        ],
        help.ALL_EXIT_CODES,
        'Environment: SEKUIRE_API_KEY, SEKUIRE_HOME, SEKUIRE_BACKEND_URL, SEKUIRE_WEB_URL, SEKUIRE_MACHINE_ID,\nSEKUIRE_TIMEOUT, SEKUIRE_CONNECT_TIMEOUT, SEKUIRE_RETRIES, HTTPS_PROXY, NO_PROXY, NO_COLOR (see docs/CLI.md).',
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
      help.helpFooter(
        ['sekuire auth whoami', 'sekuire auth token', 'sekuire auth test --verbose'],
        [
          'ok',
          'usage',
          'notLoggedIn',
          'keyRejected',
          'deviceMismatch',
          'backendUnreachable',
          'forbidden',
          'localFiles',
        ],
      ),
    )
    .helpCommand(false);
  whoami.register(auth, schedule, 'whoami', 'sekuire auth whoami');
  token.register(auth, schedule);
  authTest.register(auth, schedule);
  config.register(program, schedule);
  completion.register(program, schedule);

  // Commander's own messages become UsageErrors, rendered (and redacted) like every other error;
  // its help text goes through the context's streams like any other output.
  const configure = (command: Command) => {
    command.exitOverride().configureOutput({
      writeOut: (text) => {
        sink.out += text;
      },
      writeErr: (text) => {
        sink.err += text;
      },
      outputError: (text) => sink.errors.push(text.trim()),
    });
    for (const child of command.commands) configure(child);
  };
  configure(program);
  return program;
}

function usageFromCommander(error: CommanderError, messages: readonly string[]): UsageError {
  const text = (messages.join(' ') || error.message).replace(/^error: /, '');
  const message = `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
  // The message is redacted on output, but the key already sits in shell history.
  const exposed = looksLikeKey(text)
    ? "\nThat argument looks like an API key: keys on the command line end up in shell history, so consider it exposed (revoke it and create a new one). Pipe keys to 'sekuire login --with-key' instead."
    : '';
  return new UsageError(`${message}${exposed}`, 'usage', { hint: "Run 'sekuire --help' for usage" });
}

/** Writes and waits until the text is handed over; rejects when the stream reports an error. */
export function emit(stream: OutStream, text: string): Promise<void> {
  if (text === '') return Promise.resolve();
  return new Promise((resolve, reject) => {
    try {
      stream.write(text, (error) => (error ? reject(error) : resolve()));
    } catch (error) {
      reject(error);
    }
  });
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A result that could not be written is a failure, except a reader that closed the pipe on purpose. */
async function deliver(ctx: Context, text: string, code: number): Promise<number> {
  try {
    await emit(ctx.stdout, text);
    return code;
  } catch (error) {
    const errno = errnoOf(error);
    // `sekuire auth token | head -c 1`: the reader took what it wanted.
    if (errno === 'EPIPE') return code;
    const why = errno === 'ENOSPC' ? 'no space left on the device' : (errno ?? String(error));
    const failure = new SekuireError(
      'output_failed',
      `Cannot write the output to standard output: ${why}${errno && errno !== why ? ` (${errno})` : ''}.${code === ExitCode.ok ? ' The command itself completed.' : ''}`,
      'bug',
      { hint: 'Check where standard output goes (a full disk, a closed file)' },
    );
    await emit(ctx.stderr, renderError(failure, false).stderr).catch(() => {});
    return failure.exitCode;
  }
}

export async function run(ctx: Context, argv: readonly string[]): Promise<number> {
  const args = argv.slice(2);
  // The fast path: no commander, no command files.
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    return deliver(ctx, `${VERSION}\n`, ExitCode.ok);
  }
  const asJson = args.includes('--json');
  let task: Task | undefined;
  const sink: Sink = { out: '', err: '', errors: [] };
  try {
    const program = await buildProgram((scheduled) => {
      task = scheduled;
    }, sink);
    if (args.length === 0) {
      await emit(ctx.stderr, program.helpInformation());
      return ExitCode.usage;
    }
    try {
      await program.parseAsync(argv as string[]);
    } catch (error) {
      const commanderError = error as CommanderError;
      if (commanderError.code === 'commander.helpDisplayed' || commanderError.code === 'commander.version') {
        return deliver(ctx, sink.out, ExitCode.ok);
      }
      // `sekuire help` exits 0; a command group without its subcommand (`sekuire auth`) is usage.
      if (commanderError.code === 'commander.help') {
        if (commanderError.exitCode === 0) return deliver(ctx, sink.out, ExitCode.ok);
        await emit(ctx.stderr, sink.err);
        return ExitCode.usage;
      }
      if (typeof commanderError.code === 'string' && commanderError.code.startsWith('commander.')) {
        throw usageFromCommander(commanderError, sink.errors);
      }
      throw error;
    }
    if (!task) return ExitCode.usage;
    const result = await task(ctx);
    return deliver(ctx, renderResult(result, asJson), ExitCode.ok);
  } catch (error) {
    const known =
      error instanceof SekuireError
        ? error
        : new SekuireError(
            'internal_error',
            `Unexpected error: ${error instanceof Error ? error.message : String(error)}`,
            'bug',
            { hint: 'This is a bug in sekuire; please report it (set SEKUIRE_DEBUG=1 for details)' },
          );
    if (!(error instanceof SekuireError) && ctx.env.SEKUIRE_DEBUG) {
      await emit(
        ctx.stderr,
        `${redactKeys(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`,
      );
    }
    const rendered = renderError(known, asJson);
    await emit(ctx.stderr, rendered.stderr).catch(() => {});
    return deliver(ctx, rendered.stdout, known.exitCode);
  }
}
