// sekuire login: verify a key with the backend, bind it to this device, store it 0600. Flags and dispatch.
import type { Command } from 'commander';
import { checkCredentialsWritable } from '../../../core/credentials.js';
import { UsageError } from '../../../core/errors.js';
import type { Context } from '../../context.js';
import { backendOption, profileOption } from '../../flags.js';
import { helpFooter } from '../../help.js';
import { keyStoreChoice, precheckStore } from '../../key-store-choice.js';
import { note } from '../../notes.js';
import type { LoginResult } from '../../results.js';
import type { Schedule } from '../types.js';
import { pasteLogin } from './paste.js';
import { describeLogin, type LoginOptions, startLogin, storedLogin } from './start.js';

export type { LoginOptions } from './start.js';

export function register(program: Command, schedule: Schedule): void {
  const command = program
    .command('login')
    .description('Verify an API key with the backend, bind it to this device and store it in auth.json');
  profileOption(
    command,
    'save the login in this profile (default: SEKUIRE_PROFILE, else the active profile)',
  );
  backendOption(
    command,
    'backend API URL (default: SEKUIRE_BACKEND_URL, config backend, https://api.sekuire.ai)',
  )
    .option(
      '--web-url <url>',
      "web app URL for the dashboard link (default: SEKUIRE_WEB_URL, config web_url, the backend's origin, https://sekuire.ai)",
    )
    .option('--with-key', 'read the key from stdin instead of prompting (CI, scripts; hidden on a terminal)')
    .option(
      '--rebind',
      'if the key is bound to another device, ask to move the binding here without asking first (a person approves the move in the browser)',
    )
    .option(
      '--web',
      'log in in the browser instead: approve there, nothing to paste (a new key for this device)',
    )
    .option(
      '--device',
      'log in with a code to approve in any browser (SSH, containers): a new key for this device',
    )
    .option(
      '--port <port>',
      "with --web: the port on 127.0.0.1 for the browser's answer (default: any free port)",
    )
    .option(
      '--timeout <seconds>',
      'how long to wait for approval: --web (default 300), --device or a move (default: until the code expires)',
    )
    .option('--no-browser', 'with --web: print the URL, do not open a browser')
    .option(
      '--key-store <store>',
      "where this device's key is kept: file, agent, keyring, tpm or auto (default: config key_store, else the current login's, else file)",
    )
    .option(
      '--agent-key <fingerprint>',
      "with --key-store agent: the agent key that signs, as 'ssh-add -l' prints it (SHA256:…)",
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      helpFooter(
        [
          'sekuire login',
          'printf \'%s\' "$SEKUIRE_KEY" | sekuire login --with-key',
          'sekuire login --with-key --rebind < key.txt',
          'sekuire login --web',
          'sekuire login --device                          # over SSH, in a container',
          'sekuire login --backend http://127.0.0.1:5556',
        ],
        ['keyRejected', 'deviceMismatch', 'backendUnreachable', 'forbidden', 'localFiles', 'interrupted'],
        'The key is never accepted as an argument: argv ends up in shell history and the process list.',
      ),
    )
    // Arguments are caught here rather than by commander, to answer with --with-key.
    .allowExcessArguments(true)
    .action((options: LoginOptions, cmd: Command) =>
      schedule(async (ctx) => {
        if (cmd.args.length > 0) throw argumentRefused();
        return login(ctx, options);
      }),
    );
}

function argumentRefused(): UsageError {
  return new UsageError(
    'login takes no arguments: a key on the command line ends up in shell history and the process list.\nIf that argument was a real key, consider it exposed: revoke it and create a new one.',
    'key_in_argv',
    { hint: 'Pipe it in instead: printf \'%s\' "$SEKUIRE_KEY" | sekuire login --with-key' },
  );
}

type LoginMode = 'paste' | 'web' | 'device';

function loginMode(options: LoginOptions): LoginMode {
  if (options.web && options.device)
    throw new UsageError('--web and --device are two ways to log in; give one.', 'conflicting_flags');
  const mode: LoginMode = options.web ? 'web' : options.device ? 'device' : 'paste';
  if (mode !== 'paste' && (options.withKey || options.rebind)) {
    throw new UsageError(
      `--${mode} brings a new key for this device: ${options.withKey ? '--with-key' : '--rebind'} does not apply to it.`,
      'conflicting_flags',
    );
  }
  if (mode !== 'web' && (options.port !== undefined || options.browser === false)) {
    throw new UsageError(
      `${options.port !== undefined ? '--port' : '--no-browser'} applies to --web only.`,
      'usage',
    );
  }
  return mode;
}

export async function login(ctx: Context, options: LoginOptions): Promise<LoginResult> {
  const mode = loginMode(options);
  const start = startLogin(ctx, options);
  // What can be known of the chosen store (no agent, no TPM, no keyring) is known before the key is asked for.
  await precheckStore(ctx, keyStoreChoice(ctx, options, storedLogin(start.profile)));
  if (mode === 'paste') return pasteLogin(ctx, start, options);
  checkCredentialsWritable(start.profile.dir, false);
  const previous = storedLogin(start.profile);
  if (previous) note(ctx, `Logged in as ${describeLogin(previous)}; this login replaces it.`);
  const { browserLogin } = await import('./browser.js');
  return browserLogin(ctx, { ...start, previous }, mode, options);
}
