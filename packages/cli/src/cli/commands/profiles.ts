// sekuire auth list and auth switch: the profiles stored here, and which one commands use.
import { existsSync } from 'node:fs';
import { parseKey } from '@sekuire/shared/key';
import type { Command } from 'commander';
import { credentialsPath, readCredentials } from '../../core/credentials.js';
import { CredentialsFileError, UsageError } from '../../core/errors.js';
import {
  DEFAULT_PROFILE,
  listProfileNames,
  PROFILE_ENV,
  parseProfileName,
  profileDir,
  readActiveProfile,
  writeActiveProfile,
} from '../../core/profiles.js';
import type { Context } from '../context.js';
import { helpFooter } from '../help.js';
import { note } from '../notes.js';
import type { AuthListResult, AuthSwitchResult, ProfileLogin } from '../results.js';
import type { Schedule } from './types.js';

export function register(auth: Command, schedule: Schedule): void {
  auth
    .command('list')
    .description('List the profiles stored here: backend, key, organization, device, and which one is active')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', helpFooter(['sekuire auth list', 'sekuire auth list --json'], ['ok', 'localFiles']))
    .action(() => schedule((ctx) => authList(ctx)));
  auth
    .command('switch')
    .argument('<name>', 'the profile to make active')
    .description('Make a stored profile the active one (the one commands use without --profile)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      helpFooter(['sekuire auth switch work', 'sekuire auth switch default'], ['ok', 'usage', 'localFiles']),
    )
    .action((name: string) => schedule((ctx) => authSwitch(ctx, name)));
}

function profileLogin(ctx: Context, name: string, active: boolean): ProfileLogin {
  const empty = {
    name,
    active,
    backend: null,
    key_masked: null,
    environment: null,
    organization: null,
    device: null,
    key_store: null,
    agent_key: null,
    expires_at: null,
  };
  try {
    const stored = readCredentials(profileDir(ctx.home, name));
    if (stored === undefined) return { ...empty, logged_in: false, error: null };
    const c = stored.credentials;
    return {
      name,
      active,
      logged_in: true,
      backend: c.backend,
      key_masked: parseKey(c.api_key).masked,
      environment: c.environment || null,
      organization: { id: c.org_id, name: c.org_name },
      device: { name: c.device_name, fingerprint: c.device_fingerprint },
      // As stored: a login made before key stores has none, i.e. the file.
      key_store: c.key_store ?? 'file',
      agent_key: c.key_store === 'agent' ? (c.agent_key ?? null) : null,
      expires_at: c.expires_at || null,
      error: null,
    };
  } catch (error) {
    if (!(error instanceof CredentialsFileError)) throw error;
    return { ...empty, logged_in: false, error: { code: error.code, message: error.message } };
  }
}

function hasLogin(dir: string): boolean {
  return existsSync(credentialsPath(dir));
}

/** The active profile as commands see it: SEKUIRE_PROFILE, else the file, else `default`. */
function activeProfile(ctx: Context): { name: string; from: string } {
  const fromEnv = ctx.env[PROFILE_ENV]?.trim();
  if (fromEnv) return { name: parseProfileName(fromEnv, PROFILE_ENV), from: PROFILE_ENV };
  const saved = readActiveProfile(ctx.home);
  return saved === undefined ? { name: DEFAULT_PROFILE, from: 'default' } : { name: saved, from: 'active' };
}

export async function authList(ctx: Context): Promise<AuthListResult> {
  const active = activeProfile(ctx);
  const names = listProfileNames(ctx.home, hasLogin);
  // The active profile is listed even without a login: commands use it, and say "not logged in".
  if (!names.includes(active.name)) names.push(active.name);
  names.sort();
  return {
    kind: 'auth-list',
    data: {
      active: active.name,
      active_from: active.from,
      profiles: names.map((name) => profileLogin(ctx, name, name === active.name)),
    },
  };
}

export async function authSwitch(ctx: Context, text: string): Promise<AuthSwitchResult> {
  const name = parseProfileName(text, 'The profile');
  // `default` always exists; another name must hold a login, or switching to it would only
  // make every command say "not logged in".
  if (name !== DEFAULT_PROFILE && !hasLogin(profileDir(ctx.home, name))) {
    throw new UsageError(`There is no profile named ${name}: nothing was changed.`, 'unknown_profile', {
      hint: `Run 'sekuire auth list' to see the profiles, or 'sekuire login --profile ${name}' to add it`,
    });
  }
  const previous = readActiveProfile(ctx.home) ?? DEFAULT_PROFILE;
  const path = writeActiveProfile(ctx.home, name);
  const fromEnv = ctx.env[PROFILE_ENV]?.trim();
  if (fromEnv)
    note(ctx, `Note: ${PROFILE_ENV}=${fromEnv} is set and takes precedence over the active profile.`);
  return { kind: 'auth-switch', data: { active: name, previous, path } };
}
