// sekuire status: which key is in use, whether it belongs to this device, and whether the backend accepts it.
import type { Command } from 'commander';
import { urlText } from '../../core/backend-url.js';
import { deviceFact, deviceName, osName } from '../../core/device.js';
import { KeyRejectedError } from '../../core/errors.js';
import { resolveProfile } from '../../core/profiles.js';
import { resolveSession, type Session } from '../../core/session.js';
import { Settings } from '../../core/settings.js';
import { staleLogin } from '../../core/stale-login.js';
import { type Context, deviceInputs } from '../context.js';
import { expiredKeyError, loginCommandFor, warnExpiry } from '../expiry.js';
import {
  type BackendOptions,
  backendFlag,
  backendOption,
  type ProfileOptions,
  profileOption,
} from '../flags.js';
import { helpFooter } from '../help.js';
import { keyStoreView } from '../key-store-view.js';
import { note } from '../notes.js';
import type { StatusResult } from '../results.js';
import type { Schedule } from './types.js';

export interface StatusOptions extends BackendOptions, ProfileOptions {
  readonly offline?: boolean;
  readonly showKey?: boolean;
}

export function register(program: Command, schedule: Schedule): void {
  const command = program
    .command('status')
    .description(
      'Show the key in use (SEKUIRE_API_KEY, else auth.json), check it belongs to this device, and ask the backend whether it is accepted',
    );
  profileOption(command);
  backendOption(
    command,
    'ask this backend instead of the one the stored key was verified with (the key is sent to it)',
  )
    .option('--offline', 'local checks only: do not contact the backend')
    .option('--show-key', 'show the whole key instead of its masked form (never in --json)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      helpFooter(
        [
          'sekuire status',
          'sekuire status --offline',
          'sekuire status --json',
          'sekuire status >/dev/null && ./deploy.sh',
        ],
        ['notLoggedIn', 'keyRejected', 'deviceMismatch', 'backendUnreachable', 'forbidden', 'localFiles'],
        'Exit 0 means: authenticated, on this device, accepted by the backend (with --offline: stored for this device).',
      ),
    )
    .action((options: StatusOptions) => schedule((ctx) => status(ctx, options)));
}

function deviceView(ctx: Context, session: Session) {
  const here = deviceName(ctx.hostname());
  return {
    name: deviceFact(session.stored?.credentials.device_name ?? '', here),
    os: osName(ctx.platform),
    fingerprint: session.device.fingerprint,
    id_source: session.device.idSource,
    ...keyStoreView(session.proof),
  };
}

export async function status(ctx: Context, options: StatusOptions): Promise<StatusResult> {
  const settings = Settings.load(ctx.env, ctx.home);
  const session = await resolveSession({
    ...deviceInputs(ctx),
    settings,
    backendFlag: backendFlag(options),
    profile: resolveProfile(ctx.home, ctx.env, options.profile),
  });
  note(ctx, ...settings.config.warnings, ...session.notes);
  const stored = session.stored?.credentials;
  const backend = urlText(session.backend);
  const base = {
    authenticated: true as const,
    source: session.source,
    // SEKUIRE_API_KEY names itself in `source`; a stored login names its profile here.
    profile: session.stored ? { name: session.profile.name, from: session.profile.from } : null,
    backend,
  };
  const expiring = (expiresAt: string | null) =>
    warnExpiry(ctx, {
      value: session.key.value,
      masked: session.key.masked,
      expiresAt,
      loginCommand: loginCommandFor(session.stored ? session.profile.name : undefined),
    });
  const revealKey = options.showKey ? { revealKey: session.key.value } : {};

  if (options.offline) {
    const expiresAt = stored?.expires_at || null;
    expiring(expiresAt);
    return {
      kind: 'status',
      data: {
        ...base,
        key: { masked: session.key.masked, environment: session.key.environment, id: stored?.key_id ?? null },
        expires_at: expiresAt,
        device: { ...deviceView(ctx, session), bound_here: stored ? true : null },
        organization: stored ? { id: stored.org_id, name: stored.org_name } : null,
        workspace: stored ? { id: stored.workspace_id, name: stored.workspace_name } : null,
        checked: 'offline',
      },
      ...revealKey,
    };
  }

  const client = await ctx.connect({
    backend: session.backend,
    backendSource: session.backendSource,
    key: session.key,
    ...(session.proof !== undefined && { proof: session.proof }),
    fingerprint: session.device.fingerprint,
    policy: settings.policy(),
  });
  let answer: Awaited<ReturnType<typeof client.status>>;
  try {
    answer = await client.status();
  } catch (error) {
    if (error instanceof KeyRejectedError && error.code === 'key_expired') {
      throw expiredKeyError(
        error,
        stored?.expires_at || null,
        session.stored?.path,
        session.stored ? session.profile.name : undefined,
      );
    }
    if (error instanceof KeyRejectedError && session.stored) {
      // The file stays: the user may want its facts, and only login or logout change it.
      throw new KeyRejectedError(
        error.code,
        `${error.message} The stored credentials in ${session.stored.path} were kept.`,
        {
          ...(error.hint ? { hint: error.hint } : {}),
          details: { ...error.details, path: session.stored.path },
        },
      );
    }
    throw error;
  }
  const response = answer.body;
  // auth.json is written by a login, which binds the key to this device: a key bound to no
  // device now means that binding was moved or unbound since, and this login is stale.
  if (session.stored && response.device === null)
    throw staleLogin(session.stored, response.past_binding ?? null, session.profile.name);
  expiring(response.key.expires_at);
  return {
    kind: 'status',
    data: {
      ...base,
      key: {
        masked: session.key.masked,
        environment: response.key.environment,
        id: response.key.id,
        type: response.key.type || null,
      },
      expires_at: response.key.expires_at,
      device: {
        ...deviceView(ctx, session),
        bound_here:
          response.device === null ? false : response.device.fingerprint === session.device.fingerprint,
      },
      organization: response.organization,
      workspace: response.workspace,
      checked: 'online',
    },
    ...revealKey,
  };
}
