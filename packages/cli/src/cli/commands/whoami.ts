// sekuire auth whoami (alias: whoami): the user, organization and device behind the key in use.
import type { Command } from 'commander';
import { deviceFact, deviceName, osName } from '../../core/device.js';
import { KeyRejectedError } from '../../core/errors.js';
import { resolveProfile } from '../../core/profiles.js';
import { resolveSession } from '../../core/session.js';
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
import type { WhoamiResult } from '../results.js';
import type { Schedule } from './types.js';

export type WhoamiOptions = BackendOptions & ProfileOptions;

const DESCRIPTION = 'Show the user, organization and device behind the key in use, as the backend sees them';

export function register(parent: Command, schedule: Schedule, name: string, examplePrefix: string): void {
  const command = parent.command(name).description(DESCRIPTION);
  profileOption(command);
  backendOption(
    command,
    'ask this backend instead of the one the stored key was verified with (the key is sent to it)',
    '--backend-url',
  )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      helpFooter(
        [
          `${examplePrefix}`,
          `${examplePrefix} --json`,
          `${examplePrefix} --backend https://api.staging.example`,
        ],
        ['notLoggedIn', 'keyRejected', 'deviceMismatch', 'backendUnreachable', 'forbidden', 'localFiles'],
      ),
    )
    .action((options: WhoamiOptions) => schedule((ctx) => whoami(ctx, options)));
}

export async function whoami(ctx: Context, options: WhoamiOptions): Promise<WhoamiResult> {
  const settings = Settings.load(ctx.env, ctx.home);
  const session = await resolveSession({
    ...deviceInputs(ctx),
    settings,
    backendFlag: backendFlag(options),
    profile: resolveProfile(ctx.home, ctx.env, options.profile),
  });
  note(ctx, ...settings.config.warnings, ...session.notes);
  const client = await ctx.connect({
    backend: session.backend,
    backendSource: session.backendSource,
    key: session.key,
    ...(session.proof !== undefined && { proof: session.proof }),
    fingerprint: session.device.fingerprint,
    policy: settings.policy(),
  });
  // whoami's answer carries no key facts: the expiry is the one the backend gave at login.
  const expiresAt = session.stored?.credentials.expires_at || null;
  let response: Awaited<ReturnType<typeof client.whoami>>['body'];
  try {
    response = (await client.whoami()).body;
  } catch (error) {
    if (error instanceof KeyRejectedError && error.code === 'key_expired') {
      throw expiredKeyError(
        error,
        expiresAt,
        session.stored?.path,
        session.stored ? session.profile.name : undefined,
      );
    }
    throw error;
  }
  // The whoami answer has no binding history: the stale login is named without its details.
  if (session.stored && response.device === null)
    throw staleLogin(session.stored, null, session.profile.name);
  warnExpiry(ctx, {
    value: session.key.value,
    masked: session.key.masked,
    expiresAt,
    loginCommand: loginCommandFor(session.stored ? session.profile.name : undefined),
  });
  return {
    kind: 'whoami',
    data: {
      user: response.user,
      organization: response.organization,
      workspace: response.workspace,
      device: {
        name: deviceFact(session.stored?.credentials.device_name ?? '', deviceName(ctx.hostname())),
        os: osName(ctx.platform),
        fingerprint: session.device.fingerprint,
        id_source: session.device.idSource,
        ...keyStoreView(session.proof),
        bound_here: response.device !== null && response.device.fingerprint === session.device.fingerprint,
      },
      source: session.source,
      profile: session.stored ? { name: session.profile.name, from: session.profile.from } : null,
      backend: client.backend,
    },
  };
}
