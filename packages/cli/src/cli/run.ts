// One command, start to finish: parse argv, run the command, render its result or error; returns the exit code.
import type { Command, CommanderError } from 'commander';
import { ExitCode, UsageError } from '../core/errors.js';
import { looksLikeKey } from '../core/redact.js';
import { SETTINGS } from '../core/settings.js';
import type { Task } from './commands/types.js';
import type { Context } from './context.js';
import { deliver, emit } from './deliver.js';
import { fastCommand } from './fast-argv.js';
import { runFast } from './fast-path.js';
import { deliverResult, settle } from './settle.js';
import { VERSION } from './version.js';

/** What commander would print: help for stdout or stderr, and its error messages. */
interface Sink {
  out: string;
  err: string;
  readonly errors: string[];
}

/** Commander and every command file, built only when argv is not one fastCommand runs. */
async function buildProgram(schedule: (task: Task) => void, sink: Sink): Promise<Command> {
  const [
    { Command: CommandClass },
    login,
    logout,
    status,
    whoami,
    token,
    authTest,
    profiles,
    config,
    completion,
    api,
    help,
  ] = await Promise.all([
    import('commander'),
    import('./commands/login/index.js'),
    import('./commands/logout.js'),
    import('./commands/status.js'),
    import('./commands/whoami.js'),
    import('./commands/token.js'),
    import('./commands/auth-test.js'),
    import('./commands/profiles.js'),
    import('./commands/config.js'),
    import('./commands/completion.js'),
    import('./commands/api.js'),
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
        environmentLine(),
      ),
    );
  login.register(program, schedule);
  logout.register(program, schedule);
  status.register(program, schedule);
  whoami.register(program, schedule, 'whoami', 'sekuire whoami');
  const auth = program
    .command('auth')
    .description('Inspect and use the key in use: whoami, token, test; list and switch profiles')
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
  profiles.register(auth, schedule);
  api.register(program, schedule);
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

export async function run(ctx: Context, argv: readonly string[]): Promise<number> {
  const args = argv.slice(2);
  // --version and status: no commander, no other command files.
  const fast = fastCommand(args);
  if (fast !== undefined) return runFast(ctx, fast);
  const asJson = args.includes('--json');
  let task: Task | undefined;
  const sink: Sink = { out: '', err: '', errors: [] };
  return settle(ctx, asJson, async () => {
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
    return typeof result === 'number' ? result : deliverResult(ctx, result, asJson);
  });
}

/**
 * Every variable the CLI reads, for the main --help: those of the settings (config.json's
 * overrides) come from SETTINGS, so a new setting cannot be left out.
 */
export function environmentLine(): string {
  const names = [
    'SEKUIRE_API_KEY',
    'SEKUIRE_PROFILE',
    'SEKUIRE_HOME',
    ...Object.values(SETTINGS).map((setting) => setting.env),
    'SEKUIRE_MACHINE_ID',
    'HTTPS_PROXY',
    'NO_PROXY',
    'NO_COLOR',
  ];
  const lines = [''];
  for (const [index, name] of names.entries()) {
    const word = `${name}${index === names.length - 1 ? ' (see docs/CLI.md of the Sekuire repository).' : ','}`;
    const last = lines.length - 1;
    const current = lines[last] ?? '';
    if (current === '') lines[last] = `Environment: ${word}`;
    else if (current.length + 1 + word.length > 100) lines.push(word);
    else lines[last] = `${current} ${word}`;
  }
  return lines.join('\n');
}
