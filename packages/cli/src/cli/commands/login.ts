// sekuire login: verify a key with the backend, bind it to this device, store it 0600.

import { type ApiKey, parseKey } from '@sekuire/shared/key';
import type { Command } from 'commander';
import { parseBackendUrl } from '../../core/backend-url.js';
import type {
  BoundDeviceSummary,
  DeviceRegistration,
  LoginAnswer,
  LoginResponse,
} from '../../core/client.js';
import {
  checkCredentialsWritable,
  type LoadedCredentials,
  readCredentials,
  writeCredentials,
} from '../../core/credentials.js';
import {
  type DeviceIdentity,
  deviceFact,
  deviceIdentity,
  deviceName,
  osName,
  weakBindingWarning,
} from '../../core/device.js';
import { CredentialsFileError, DeviceMismatchError, SekuireError, UsageError } from '../../core/errors.js';
import { type NetworkPolicy, parseSeconds } from '../../core/http/policy.js';
import { storedSigner } from '../../core/key-store/stored.js';
import type { DeviceSigner } from '../../core/key-store/types.js';
import { proxyFor } from '../../core/proxy.js';
import { redactKeys } from '../../core/redact.js';
import { ENV_KEY, parseGivenKey } from '../../core/session.js';
import { Settings } from '../../core/settings.js';
import { type Context, canPrompt, deviceInputs } from '../context.js';
import { backendFlag, backendOption } from '../flags.js';
import { helpFooter } from '../help.js';
import { chooseSigner, keyStoreChoice, precheckStore } from '../key-store-choice.js';
import { keyStoreView } from '../key-store-view.js';
import { note } from '../notes.js';
import type { LoginResult, PreviousLogin } from '../results.js';
import { readKeyFromStdin } from '../stdin.js';
import type { Schedule } from './types.js';

export interface LoginOptions {
  readonly backend?: string;
  readonly webUrl?: string;
  readonly withKey?: boolean;
  readonly rebind?: boolean;
  readonly web?: boolean;
  readonly device?: boolean;
  readonly port?: string;
  readonly timeout?: string;
  /** false with --no-browser. */
  readonly browser?: boolean;
  /** file, agent, keyring, tpm or auto (default: config key_store, else the stored login's, else file). */
  readonly keyStore?: string;
  /** With the agent store: which agent key, as `ssh-add -l` prints it. */
  readonly agentKey?: string;
}

export function register(program: Command, schedule: Schedule): void {
  const command = program
    .command('login')
    .description('Verify an API key with the backend, bind it to this device and store it in auth.json');
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
  if (options.withKey) {
    return parseGivenKey(await readKeyFromStdin(ctx), (problem) => `${problem} Nothing was saved.`);
  }
  ctx.stderr.write(instructions(web));
  const { promptForKey } = await import('../prompt.js');
  return promptForKey(ctx);
}

/** The login stored before this one, when it can be read; a broken file is simply replaced. */
function storedLogin(ctx: Context): LoadedCredentials | undefined {
  try {
    return readCredentials(ctx.home);
  } catch (error) {
    if (error instanceof CredentialsFileError) return undefined;
    throw error;
  }
}

function describeLogin(stored: LoadedCredentials): string {
  const c = stored.credentials;
  // readCredentials has checked the key's format: parseKey cannot fail here.
  const masked = parseKey(c.api_key).masked;
  return `${c.user_email || 'unknown user'}${c.org_name ? ` (${c.org_name})` : ''} with ${masked} on ${c.backend}`;
}

/** What the backend is told about this device: cleaned and capped as its validation requires. */
async function registration(ctx: Context, identity: DeviceIdentity): Promise<DeviceRegistration> {
  return {
    fingerprint: identity.fingerprint,
    name: deviceName(ctx.hostname()),
    os: deviceFact(osName(ctx.platform), 'unknown'),
    os_version: deviceFact(await ctx.osVersion(), ''),
    arch: deviceFact(ctx.arch, 'unknown'),
  };
}

function notSaved(
  error: CredentialsFileError,
  rebound: boolean,
  movedFrom: BoundDeviceSummary | null,
): CredentialsFileError {
  const other = movedFrom ? `${movedFrom.name} (${movedFrom.os})` : rebound ? 'the other device' : undefined;
  return new CredentialsFileError(
    'credentials_not_saved',
    `The backend accepted the key and bound it to this device${other ? `, moving the binding from ${other}, which has lost access` : ''}; but the credentials could not be saved: ${error.message}`,
    {
      // The file error's own hint may end by saying to log in again: said once here.
      hint: `${(error.hint ?? 'Fix that').replace(/, then run 'sekuire login'$/, '')}, then run 'sekuire login' here again: the key is already bound to this device${other ? `. To give the binding back instead, run 'sekuire login --rebind' on ${other}` : ''}`,
      details: { ...error.details, bound_here: true, moved_from: movedFrom },
    },
  );
}

/** Unbinds the replaced key from this device (best effort): a key left bound here would block its next owner. */
async function releasePrevious(
  ctx: Context,
  previous: LoadedCredentials,
  identity: DeviceIdentity,
  policy: NetworkPolicy,
): Promise<Pick<PreviousLogin, 'unbound' | 'unbind_error'>> {
  const c = previous.credentials;
  if (c.device_fingerprint !== identity.fingerprint) {
    return {
      unbound: null,
      unbind_error: { code: 'device_changed', message: 'it was stored for another device' },
    };
  }
  try {
    const proof = await storedSigner(ctx.home, ctx.env, previous);
    const client = await ctx.connect({
      backend: parseBackendUrl(c.backend, previous.path),
      backendSource: `the earlier login in ${previous.path}`,
      key: parseKey(c.api_key),
      fingerprint: identity.fingerprint,
      ...(proof !== undefined && { proof }),
      policy,
    });
    return { unbound: (await client.logout()).body.unbound, unbind_error: null };
  } catch (error) {
    if (!(error instanceof SekuireError)) throw error;
    return { unbound: null, unbind_error: { code: error.code, message: redactKeys(error.message) } };
  }
}

/** What every login mode checks and knows before it asks anyone anything. */
export interface LoginStart {
  readonly backend: ReturnType<Settings['backend']>;
  readonly web: string;
  readonly policy: NetworkPolicy;
  readonly previous: LoadedCredentials | undefined;
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

/**
 * Every setting is checked before the prompt (or the browser): nobody pastes a key, or approves
 * a login, to learn of a typo. So is the place the login will be saved: a directory in the way,
 * a symlink, a read-only file system. Nothing is created yet.
 */
function startLogin(ctx: Context, options: LoginOptions): LoginStart {
  const settings = Settings.load(ctx.env, ctx.home);
  note(ctx, ...settings.config.warnings);
  const backend = settings.backend(backendFlag(options));
  const web = settings.webUrl(
    options.webUrl === undefined ? undefined : { value: options.webUrl, name: '--web-url' },
    backend,
  );
  const policy = settings.policy();
  // The proxy this backend would go through (none for loopback), parsed now rather than later.
  proxyFor(backend.url, ctx.env);
  keyStoreChoice(ctx, options, undefined);
  return { backend, web, policy, previous: undefined };
}

export async function login(ctx: Context, options: LoginOptions): Promise<LoginResult> {
  const mode = loginMode(options);
  const start = startLogin(ctx, options);
  await precheckStore(ctx, keyStoreChoice(ctx, options, storedLogin(ctx)));
  const { backend, web, policy } = start;
  if (mode !== 'paste') {
    checkCredentialsWritable(ctx.home, false);
    const previous = storedLogin(ctx);
    if (previous) note(ctx, `Logged in as ${describeLogin(previous)}; this login replaces it.`);
    const { browserLogin } = await import('../browser-login.js');
    return browserLogin(ctx, { ...start, previous }, mode, options);
  }
  // Checked before the prompt: a typo in --timeout is not found after a move was requested.
  const timeoutMs = options.timeout === undefined ? undefined : parseSeconds(options.timeout, '--timeout');
  if (!options.withKey && !canPrompt(ctx)) {
    throw new UsageError('No terminal to prompt for the API key.', 'no_terminal', {
      hint: 'Use --with-key and pipe the key in, e.g. printf \'%s\' "$SEKUIRE_KEY" | sekuire login --with-key',
    });
  }
  checkCredentialsWritable(ctx.home, false);
  const previous = storedLogin(ctx);
  if (previous) note(ctx, `Logged in as ${describeLogin(previous)}; this login replaces it.`);

  const key = await readKey(ctx, options, web);
  const { identity, deviceKey, device } = await thisDevice(ctx, options, previous);
  if (!options.rebind) {
    const { rotateIfStoreChanged } = await import('../key-rotation.js');
    await rotateIfStoreChanged(ctx, {
      previous,
      key,
      identity,
      signer: deviceKey,
      backend: backend.url,
      policy,
    });
  }
  const client = await ctx.connect({
    backend: backend.url,
    backendSource: backend.source,
    key,
    proof: deviceKey,
    fingerprint: identity.fingerprint,
    policy,
  });

  let answer: LoginAnswer;
  let movedFrom: BoundDeviceSummary | null = null;
  try {
    answer = (await client.login(device, options.rebind === true)).body;
  } catch (error) {
    if (!(error instanceof DeviceMismatchError) || options.rebind) throw error;
    const bound = (error.details.bound_device as BoundDeviceSummary | null | undefined) ?? null;
    if (!canPrompt(ctx)) {
      throw new DeviceMismatchError(`${error.message} Nothing was saved.`, 'device_mismatch', {
        hint: "To move the binding to this device (the other one loses access), run 'sekuire login --rebind'",
        details: error.details,
      });
    }
    const { confirmRebind } = await import('../prompt.js');
    if (!(await confirmRebind(ctx, bound))) {
      throw new DeviceMismatchError(
        'The binding was not moved; the key stays bound to the other device. Nothing was saved.',
        'rebind_declined',
        { details: error.details },
      );
    }
    movedFrom = bound;
    answer = (await client.login(device, true)).body;
  }
  let response: LoginResponse;
  if (answer.kind === 'move') {
    // The backend wants a person to approve the move: print where, and wait.
    const { awaitMove } = await import('../move.js');
    response = await awaitMove(ctx, { client, move: answer.move, web, timeoutMs });
    movedFrom ??= answer.move.from;
  } else {
    response = answer.login;
  }

  return saveLogin(
    ctx,
    { ...start, previous },
    { key, response, identity, device, signer: deviceKey, backend: client.backend, movedFrom },
  );
}

export interface ThisDevice {
  readonly identity: DeviceIdentity;
  /** Its key, in the store chosen (created there at the first login): the binding holds the public half. */
  readonly deviceKey: DeviceSigner;
  readonly device: DeviceRegistration;
}

/** This device as the backend is told of it, and the last check before the backend changes anything. */
export async function thisDevice(
  ctx: Context,
  options: Pick<LoginOptions, 'keyStore' | 'agentKey'> = {},
  previous?: LoadedCredentials,
): Promise<ThisDevice> {
  const identity = await deviceIdentity(deviceInputs(ctx), { create: true });
  note(ctx, ...identity.warnings, weakBindingWarning(identity));
  // The directory is made and a file of the right size is written and removed: a full disk
  // shows here, not after the binding moved.
  checkCredentialsWritable(ctx.home, true);
  const deviceKey = await chooseSigner(ctx, options, previous);
  note(ctx, ...deviceKey.warnings);
  const device = { ...(await registration(ctx, identity)), public_key: deviceKey.publicJwk };
  return { identity, deviceKey, device };
}

export interface Accepted {
  readonly key: ApiKey;
  readonly response: LoginResponse;
  readonly identity: DeviceIdentity;
  readonly device: DeviceRegistration;
  /** The device key the binding holds, and its store: kept with the login. */
  readonly signer: DeviceSigner;
  /** The backend that accepted the key, as the client names it. */
  readonly backend: string;
  readonly movedFrom: BoundDeviceSummary | null;
}

/** Writes auth.json for a key the backend accepted and bound here, and says what happened. */
export async function saveLogin(ctx: Context, start: LoginStart, accepted: Accepted): Promise<LoginResult> {
  const { key, response, identity, device, movedFrom } = accepted;
  const { previous, policy } = start;
  let credentialsPath: string;
  try {
    credentialsPath = writeCredentials(ctx.home, {
      api_key: key.value,
      key_id: response.key.id,
      environment: response.key.environment,
      device_fingerprint: identity.fingerprint,
      device_name: device.name,
      os: device.os,
      user_id: response.user.id,
      user_email: response.user.email,
      org_id: response.organization.id,
      org_name: response.organization.name,
      workspace_id: response.workspace.id,
      workspace_name: response.workspace.name,
      backend: accepted.backend,
      verified_at: ctx.now().toISOString(),
      // Recorded only when the backend says the binding holds this device's key.
      device_key: response.device.key_thumbprint ?? '',
      key_store: accepted.signer.store,
      ...(accepted.signer.store === 'agent' && { agent_key: accepted.signer.agentKey }),
    });
  } catch (error) {
    if (error instanceof CredentialsFileError)
      throw notSaved(error, response.device.rebound || movedFrom !== null, movedFrom);
    throw error;
  }

  let replaced: PreviousLogin | null = null;
  if (previous) {
    const sameKey = previous.credentials.api_key === key.value;
    replaced = {
      user_email: previous.credentials.user_email,
      key_masked: parseKey(previous.credentials.api_key).masked,
      same_key: sameKey,
      ...(sameKey
        ? { unbound: null, unbind_error: null }
        : await releasePrevious(ctx, previous, identity, policy)),
    };
  }
  if (ctx.env[ENV_KEY]?.trim()) {
    note(ctx, `Note: ${ENV_KEY} is set and takes precedence over this login until you unset it.`);
  }
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
        name: device.name,
        os: device.os,
        fingerprint: identity.fingerprint,
        id_source: identity.idSource,
        ...keyStoreView(accepted.signer),
        bound_at: response.device.bound_at,
        rebound: response.device.rebound || movedFrom !== null,
      },
      moved_from: movedFrom ? { name: movedFrom.name, os: movedFrom.os } : null,
      backend: accepted.backend,
      credentials_path: credentialsPath,
      previous: replaced,
    },
  };
}
