// sekuire logout: remove auth.json, then unbind this device on the backend (best effort).
import type { Command } from 'commander';
import { parseBackendUrl } from '../../core/backend-url.js';
import {
  credentialsPath,
  type LoadedCredentials,
  readCredentials,
  removeCredentials,
} from '../../core/credentials.js';
import { deviceIdentity } from '../../core/device.js';
import { CredentialsFileError, SekuireError } from '../../core/errors.js';
import { ENV_KEY } from '../../core/session.js';
import type { Context } from '../context.js';
import { helpFooter } from '../help.js';
import { note } from '../notes.js';
import { redactKeys } from '../output.js';
import type { LogoutResult } from '../results.js';
import type { Schedule } from './types.js';

export function register(program: Command, schedule: Schedule): void {
  program
    .command('logout')
    .description('Remove the stored credentials (auth.json) and unbind this device on the backend')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      helpFooter(
        ['sekuire logout', 'sekuire logout --json'],
        [0, 15],
        'The file is always removed, even when the backend cannot be reached; the key itself stays valid (revoke it on the dashboard).',
      ),
    )
    .action(() => schedule((ctx) => logout(ctx)));
}

type Unbind = Pick<LogoutResult['data'], 'unbound' | 'unbind_error'>;

async function unbind(ctx: Context, stored: LoadedCredentials): Promise<Unbind> {
  const { credentials } = stored;
  try {
    const device = await deviceIdentity(ctx);
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
    const client = await ctx.connect({
      backend: parseBackendUrl(credentials.backend, stored.path),
      apiKey: credentials.api_key,
      fingerprint: device.fingerprint,
    });
    const answer = await client.logout();
    return { unbound: answer.body.unbound, unbind_error: null };
  } catch (error) {
    if (error instanceof SekuireError) {
      return { unbound: null, unbind_error: { code: error.code, message: redactKeys(error.message) } };
    }
    throw error;
  }
}

export async function logout(ctx: Context): Promise<LogoutResult> {
  const path = credentialsPath(ctx.home);
  const envSet = Boolean(ctx.env[ENV_KEY]?.trim());
  ctx.stderr.write('Logging out...\n');

  let stored: LoadedCredentials | undefined;
  let unreadable: CredentialsFileError | undefined;
  try {
    stored = readCredentials(ctx.home);
  } catch (error) {
    if (!(error instanceof CredentialsFileError)) throw error;
    unreadable = error;
  }
  // Removed before the network call: logging out must not depend on the backend answering,
  // and an interrupted logout must not leave the key behind.
  const removed = removeCredentials(ctx.home);
  let result: Unbind = { unbound: null, unbind_error: null };
  if (stored) {
    result = await unbind(ctx, stored);
  } else if (unreadable && removed) {
    result = {
      unbound: null,
      unbind_error: {
        code: unreadable.code,
        message: 'the file could not be read, so the backend was not asked',
      },
    };
  }

  if (result.unbind_error) {
    note(
      ctx,
      `Warning: this device could not be unbound on the backend (${result.unbind_error.message}). The key stays valid; to release it, log in elsewhere with 'sekuire login --rebind' or revoke the key on the dashboard.`,
    );
  }
  if (envSet) {
    note(ctx, `Note: ${ENV_KEY} is still set, so commands keep using that key until you unset it.`);
  }
  return {
    kind: 'logout',
    data: {
      logged_out: true,
      credentials_path: path,
      removed,
      backend: stored?.credentials.backend ?? null,
      unbound: result.unbound,
      unbind_error: result.unbind_error,
      api_key_env_set: envSet,
    },
  };
}
