// sekuire login: verify a key with the backend, bind it to this device, store it 0600.
import type { Command } from 'commander';
import type { BoundDeviceSummary, LoginResponse } from '../../core/client.js';
import { writeCredentials } from '../../core/credentials.js';
import { deviceIdentity, deviceName, osName, weakBindingWarning } from '../../core/device.js';
import { DeviceMismatchError, UsageError } from '../../core/errors.js';
import type { ApiKey } from '../../core/key.js';
import { osVersion } from '../../core/os-facts.js';
import { DEFAULT_WEB_URL, defaultBackend, ENV_KEY, parseGivenKey } from '../../core/session.js';
import { type Context, canPrompt } from '../context.js';
import { helpFooter } from '../help.js';
import { note } from '../notes.js';
import type { LoginResult } from '../results.js';
import { readKeyFromStdin } from '../stdin.js';
import type { Schedule } from './types.js';

export interface LoginOptions {
  readonly backend?: string;
  readonly webUrl?: string;
  readonly withKey?: boolean;
  readonly rebind?: boolean;
}

export function register(program: Command, schedule: Schedule): void {
  program
    .command('login')
    .description('Verify an API key with the backend, bind it to this device and store it in auth.json')
    .option('--backend <url>', 'backend API URL (default: SEKUIRE_BACKEND_URL, else https://api.sekuire.ai)')
    .option(
      '--web-url <url>',
      'web app URL for the dashboard link (default: SEKUIRE_WEB_URL, else https://sekuire.ai)',
    )
    .option('--with-key', 'read the key from stdin instead of prompting (CI, scripts)')
    .option('--rebind', 'if the key is bound to another device, move the binding here without asking')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      helpFooter(
        [
          'sekuire login',
          'printf \'%s\' "$SEKUIRE_KEY" | sekuire login --with-key',
          'sekuire login --with-key --rebind < key.txt',
          'sekuire login --backend http://127.0.0.1:5556',
        ],
        [0, 2, 11, 12, 13, 14, 15, 130],
        'The key is never accepted as an argument: argv ends up in shell history and the process list.',
      ),
    )
    // Arguments are caught here rather than by commander, to answer with --with-key.
    .allowExcessArguments(true)
    .action((options: LoginOptions, command: Command) =>
      schedule(async (ctx) => {
        if (command.args.length > 0) throw argumentRefused();
        return login(ctx, options);
      }),
    );
}

function argumentRefused(): UsageError {
  return new UsageError(
    'login takes no arguments: a key on the command line ends up in shell history and the process list. Pipe it in instead: printf \'%s\' "$SEKUIRE_KEY" | sekuire login --with-key\nIf that argument was a real key, consider it exposed: revoke it and create a new one.',
    'key_in_argv',
  );
}

function webUrl(ctx: Context, flag: string | undefined): string {
  const [text, source] = flag
    ? [flag, '--web-url']
    : [ctx.env.SEKUIRE_WEB_URL?.trim() || DEFAULT_WEB_URL, 'SEKUIRE_WEB_URL'];
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${source} is not a URL: ${text}`, 'invalid_url');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`${source} must be an http(s) URL: ${text}`, 'invalid_url');
  }
  return url.href.replace(/\/+$/, '');
}

function instructions(web: string): string {
  return [
    'Sekuire Login',
    '',
    'To authenticate:',
    `1. Go to: ${web}/dashboard/settings?tab=api-keys`,
    '2. Create a new API Key for CLI access',
    "3. Copy the key (you'll only see it once!)",
    '4. Paste it below',
    '',
    '',
  ].join('\n');
}

async function readKey(ctx: Context, options: LoginOptions, web: string): Promise<ApiKey> {
  if (options.withKey)
    return parseGivenKey(await readKeyFromStdin(ctx), (problem) => `${problem} Nothing was saved.`);
  if (!canPrompt(ctx)) {
    throw new UsageError(
      'No terminal to prompt for the API key. Use --with-key and pipe the key in, e.g. printf \'%s\' "$SEKUIRE_KEY" | sekuire login --with-key',
      'no_terminal',
    );
  }
  ctx.stderr.write(instructions(web));
  const { promptForKey } = await import('../prompt.js');
  return promptForKey(ctx);
}

export async function login(ctx: Context, options: LoginOptions): Promise<LoginResult> {
  // Every flag and variable is checked before the prompt: nobody pastes a key to learn of a typo.
  const backend = defaultBackend({
    env: ctx.env,
    backendFlag: options.backend === undefined ? undefined : { value: options.backend, name: '--backend' },
  });
  const web = webUrl(ctx, options.webUrl);
  const key = await readKey(ctx, options, web);

  const identity = await deviceIdentity(ctx);
  note(ctx, ...identity.warnings, weakBindingWarning(identity));
  const registration = {
    fingerprint: identity.fingerprint,
    name: deviceName(),
    os: osName(ctx.platform),
    os_version: await osVersion(ctx.platform),
    arch: ctx.arch,
  };
  const client = await ctx.connect({ backend, apiKey: key.value, fingerprint: identity.fingerprint });

  let response: LoginResponse;
  let movedFrom: BoundDeviceSummary | null = null;
  try {
    response = (await client.login(registration, options.rebind === true)).body;
  } catch (error) {
    if (!(error instanceof DeviceMismatchError) || options.rebind) throw error;
    const bound = (error.details.bound_device as BoundDeviceSummary | null | undefined) ?? null;
    if (!canPrompt(ctx)) {
      throw new DeviceMismatchError(
        `${error.message.replace(/ Run .*$/, '')} To move the binding to this device (the other one loses access), run 'sekuire login --rebind'. Nothing was saved.`,
        'device_mismatch',
        error.details,
      );
    }
    const { confirmRebind } = await import('../prompt.js');
    if (!(await confirmRebind(ctx, bound))) {
      throw new DeviceMismatchError(
        'The binding was not moved; the key stays bound to the other device. Nothing was saved.',
        'rebind_declined',
        error.details,
      );
    }
    movedFrom = bound;
    response = (await client.login(registration, true)).body;
  }

  const credentialsPath = writeCredentials(ctx.home, {
    api_key: key.value,
    key_id: response.key.id,
    environment: response.key.environment,
    device_fingerprint: identity.fingerprint,
    device_name: registration.name,
    os: registration.os,
    user_id: response.user.id,
    user_email: response.user.email,
    org_id: response.organization.id,
    org_name: response.organization.name,
    workspace_id: response.workspace.id,
    workspace_name: response.workspace.name,
    backend: client.backend,
    verified_at: ctx.now().toISOString(),
  });
  if (ctx.env[ENV_KEY]?.trim()) {
    note(ctx, `Note: ${ENV_KEY} is set and takes precedence over this login until you unset it.`);
  }
  const rebound = response.device.rebound || movedFrom !== null;
  return {
    kind: 'login',
    data: {
      logged_in: true,
      key: {
        id: response.key.id,
        name: response.key.name,
        environment: response.key.environment,
        masked: key.masked,
      },
      user: response.user,
      organization: response.organization,
      workspace: response.workspace,
      device: {
        id: response.device.id,
        name: registration.name,
        os: registration.os,
        fingerprint: identity.fingerprint,
        id_source: identity.idSource,
        bound_at: response.device.bound_at,
        rebound,
      },
      moved_from: movedFrom ? { name: movedFrom.name, os: movedFrom.os } : null,
      backend: client.backend,
      credentials_path: credentialsPath,
    },
  };
}
