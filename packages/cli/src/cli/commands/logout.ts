// sekuire logout: remove auth.json, then unbind this device on the backend (best effort).

import { existsSync } from 'node:fs';
import { parseKey } from '@sekuire/shared/key';
import type { Command } from 'commander';
import { parseBackendUrl } from '../../core/backend-url.js';
import {
  credentialsPath,
  type LoadedCredentials,
  readCredentials,
  removeCredentials,
} from '../../core/credentials.js';
import { deviceIdentity } from '../../core/device.js';
import { CredentialsFileError, KeyRejectedError, SekuireError, UsageError } from '../../core/errors.js';
import type { NetworkPolicy } from '../../core/http/policy.js';
import { storedSigner } from '../../core/key-store/stored.js';
import { listProfileNames, type Profile, profileDir, resolveProfile } from '../../core/profiles.js';
import { redactKeys } from '../../core/redact.js';
import { ENV_KEY } from '../../core/session.js';
import { type Flag, Settings } from '../../core/settings.js';
import { type Context, deviceInputs } from '../context.js';
import {
  type BackendOptions,
  backendFlag,
  backendOption,
  type ProfileOptions,
  profileOption,
} from '../flags.js';
import { helpFooter } from '../help.js';
import { note } from '../notes.js';
import type { LogoutAllResult, LogoutResult } from '../results.js';
import type { Schedule } from './types.js';

export function register(program: Command, schedule: Schedule): void {
  const command = program
    .command('logout')
    .description('Remove the stored credentials (auth.json) and unbind this device on the backend');
  profileOption(command, 'log out of this profile (default: SEKUIRE_PROFILE, else the active profile)');
  command.option('--all', 'log out of every profile');
  backendOption(
    command,
    'unbind on this backend instead of the one the key was verified with (the key is sent to it)',
  )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      helpFooter(
        ['sekuire logout', 'sekuire logout --profile work', 'sekuire logout --all', 'sekuire logout --json'],
        ['localFiles'],
        'The file is always removed, even when the backend cannot be reached; the key itself stays valid (revoke it on the dashboard).',
      ),
    )
    .action((options: LogoutOptions) => schedule((ctx) => logout(ctx, options)));
}

export interface LogoutOptions extends BackendOptions, ProfileOptions {
  readonly all?: boolean;
}

type Unbind = Pick<LogoutResult['data'], 'unbound' | 'unbind_error'>;

async function unbind(
  ctx: Context,
  stored: LoadedCredentials,
  policy: NetworkPolicy,
  flag: Flag | undefined,
  profile: Profile,
): Promise<Unbind> {
  const { credentials } = stored;
  try {
    const device = await deviceIdentity(deviceInputs(ctx));
    // A copied auth.json must not unbind the machine it was copied from.
    if (device.fingerprint !== credentials.device_fingerprint) {
      return {
        unbound: null,
        unbind_error: {
          code: 'device_changed',
          message: 'the credentials were created on another device, so that device stays bound',
        },
      };
    }
    const proof = await storedSigner(profile.dir, ctx.env, stored);
    const client = await ctx.connect({
      backend: flag
        ? parseBackendUrl(flag.value, flag.name)
        : parseBackendUrl(credentials.backend, stored.path),
      backendSource: flag ? flag.name : `the login stored in ${stored.path}`,
      key: parseKey(credentials.api_key),
      fingerprint: device.fingerprint,
      // Signed: only the device that holds the binding's key can free it.
      ...(proof !== undefined && { proof }),
      policy,
    });
    const answer = await client.logout();
    return { unbound: answer.body.unbound, unbind_error: null };
  } catch (error) {
    if (error instanceof KeyRejectedError) {
      const reason = typeof error.details.reason === 'string' ? error.details.reason : 'it was rejected';
      return {
        unbound: null,
        unbind_error: { code: error.code, message: `the backend no longer accepts the key: ${reason}` },
      };
    }
    if (error instanceof SekuireError) {
      return { unbound: null, unbind_error: { code: error.code, message: redactKeys(error.message) } };
    }
    throw error;
  }
}

const REJECTED = new Set(['invalid_key', 'key_revoked', 'key_expired']);

export async function logout(
  ctx: Context,
  options: LogoutOptions = {},
): Promise<LogoutResult | LogoutAllResult> {
  if (options.all && options.profile !== undefined) {
    throw new UsageError(
      '--all logs out of every profile: leave --profile out, or --all.',
      'conflicting_flags',
    );
  }
  // Settings first: a typo in SEKUIRE_TIMEOUT stops here, before anything is removed.
  const settings = Settings.load(ctx.env, ctx.home);
  const policy = settings.policy();
  const flag = backendFlag(options);
  if (!options.all) {
    const profile = resolveProfile(ctx.home, ctx.env, options.profile);
    ctx.stderr.write('Logging out...\n');
    return { kind: 'logout', data: await logoutProfile(ctx, profile, policy, flag) };
  }
  const names = listProfileNames(ctx.home, (dir) => existsSync(credentialsPath(dir)));
  ctx.stderr.write('Logging out...\n');
  const profiles: LogoutResult['data'][] = [];
  for (const name of names) {
    profiles.push(
      await logoutProfile(ctx, { name, from: '--profile', dir: profileDir(ctx.home, name) }, policy, flag),
    );
  }
  return { kind: 'logout-all', data: { logged_out: true, profiles } };
}

async function logoutProfile(
  ctx: Context,
  profile: Profile,
  policy: NetworkPolicy,
  flag: Flag | undefined,
): Promise<LogoutResult['data']> {
  const path = credentialsPath(profile.dir);
  const envSet = Boolean(ctx.env[ENV_KEY]?.trim());

  let stored: LoadedCredentials | undefined;
  let unreadable: CredentialsFileError | undefined;
  try {
    stored = readCredentials(profile.dir);
  } catch (error) {
    if (!(error instanceof CredentialsFileError)) throw error;
    unreadable = error;
  }
  // Removed before the network call: logging out must not depend on the backend answering,
  // and an interrupted logout must not leave the key behind. The removal refuses a symlinked
  // or foreign directory itself (exit 15), so nothing is removed through one.
  const removed = removeCredentials(profile.dir);
  let result: Unbind = { unbound: null, unbind_error: null };
  if (stored) {
    result = await unbind(ctx, stored, policy, flag, profile);
  } else if (unreadable && removed) {
    result = {
      unbound: null,
      unbind_error: {
        code: unreadable.code,
        message: 'the file could not be read, so the backend was not asked',
      },
    };
  }

  const failure = result.unbind_error;
  if (failure && REJECTED.has(failure.code)) {
    note(ctx, `Note: ${failure.message}, so there was no binding to remove.`);
  } else if (failure) {
    note(
      ctx,
      `Warning: this device could not be unbound on the backend (${failure.message}). The key stays valid and bound here; to release it, log in elsewhere with 'sekuire login --rebind' or revoke the key on the dashboard.`,
    );
  }
  if (envSet) {
    note(ctx, `Note: ${ENV_KEY} is still set, so commands keep using that key until you unset it.`);
  }
  return {
    logged_out: true,
    profile: profile.name,
    credentials_path: path,
    removed,
    backend: stored?.credentials.backend ?? null,
    unbound: result.unbound,
    unbind_error: result.unbind_error,
    api_key_env_set: envSet,
  };
}
