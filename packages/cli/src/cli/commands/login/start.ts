// What every login mode checks and knows before it asks anyone anything: the flags, the settings, the stored login.
import { parseKey } from '@sekuire/shared/key';
import { type LoadedCredentials, readCredentials } from '../../../core/credentials.js';
import { CredentialsFileError } from '../../../core/errors.js';
import type { NetworkPolicy } from '../../../core/http/policy.js';
import { type Profile, resolveProfile } from '../../../core/profiles.js';
import { proxyFor } from '../../../core/proxy.js';
import { Settings } from '../../../core/settings.js';
import type { Context } from '../../context.js';
import { backendFlag } from '../../flags.js';
import { keyStoreChoice } from '../../key-store-choice.js';
import { note } from '../../notes.js';

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
  readonly profile?: string;
  /** file, agent, keyring, tpm or auto (default: config key_store, else the stored login's, else file). */
  readonly keyStore?: string;
  /** With the agent store: which agent key, as `ssh-add -l` prints it. */
  readonly agentKey?: string;
}

/** What every login mode checks and knows before it asks anyone anything. */
export interface LoginStart {
  readonly backend: ReturnType<Settings['backend']>;
  readonly web: string;
  readonly policy: NetworkPolicy;
  readonly previous: LoadedCredentials | undefined;
  /** The profile the login is saved in: its directory holds auth.json and its own device key. */
  readonly profile: Profile;
}

/**
 * Every setting is checked before the prompt (or the browser): nobody pastes a key, or approves
 * a login, to learn of a typo. So is the place the login will be saved: a directory in the way,
 * a symlink, a read-only file system. Nothing is created yet.
 */
export function startLogin(ctx: Context, options: LoginOptions): LoginStart {
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
  // --key-store and --agent-key too: a typo in either is a usage error before anything is asked.
  keyStoreChoice(ctx, options, undefined);
  const profile = resolveProfile(ctx.home, ctx.env, options.profile);
  return { backend, web, policy, previous: undefined, profile };
}

/** The login stored before this one, when it can be read; a broken file is simply replaced. */
export function storedLogin(profile: Profile): LoadedCredentials | undefined {
  try {
    return readCredentials(profile.dir);
  } catch (error) {
    if (error instanceof CredentialsFileError) return undefined;
    throw error;
  }
}

export function describeLogin(stored: LoadedCredentials): string {
  const c = stored.credentials;
  // readCredentials has checked the key's format: parseKey cannot fail here.
  const masked = parseKey(c.api_key).masked;
  return `${c.user_email || 'unknown user'}${c.org_name ? ` (${c.org_name})` : ''} with ${masked} on ${c.backend}`;
}
