// Which key to use (SEKUIRE_API_KEY, else auth.json), for which backend, from this device.
import { existsSync } from 'node:fs';
import { type ApiKey, KeyFormatError, parseKey } from '@sekuire/shared/key';
import { parseBackendUrl, urlText } from './backend-url.js';
import { credentialsPath, type LoadedCredentials, readCredentials } from './credentials.js';
import { type DeviceIdentity, type DeviceInputs, deviceIdentity, shortFingerprint } from './device.js';
import { DeviceMismatchError, NotLoggedInError, UsageError } from './errors.js';
import { readFileSigner } from './key-store/file.js';
import { storedSigner } from './key-store/stored.js';
import type { DeviceSigner } from './key-store/types.js';
import { loginCommandFor, type Profile } from './profiles.js';
import type { Flag, Settings } from './settings.js';

export const ENV_KEY = 'SEKUIRE_API_KEY';

export type KeySource =
  | { readonly type: 'env'; readonly name: typeof ENV_KEY }
  | { readonly type: 'file'; readonly path: string }
  | { readonly type: 'stdin' };

export interface Session {
  readonly key: ApiKey;
  readonly source: KeySource;
  /** The stored login, when the key comes from auth.json. */
  readonly stored?: LoadedCredentials;
  /** The profile whose login (or, for SEKUIRE_API_KEY, whose device key) is used. */
  readonly profile: Profile;
  readonly device: DeviceIdentity;
  /** This device's key, when it has one: requests are signed with it. */
  readonly proof?: DeviceSigner;
  readonly backend: URL;
  /** Where the backend came from, for messages. */
  readonly backendSource: string;
  /** Things to tell the user on stderr; none stops the command. */
  readonly notes: readonly string[];
}

export interface SessionOptions extends DeviceInputs {
  readonly settings: Settings;
  /** The profile chosen (--profile > SEKUIRE_PROFILE > active): its files, not SEKUIRE_HOME's, hold the login. */
  readonly profile: Profile;
  /** A backend named by a flag (--backend and its aliases): the only way to send a stored key elsewhere. */
  readonly backendFlag?: Flag;
  /** A key given for this command only (auth test --with-key). */
  readonly explicitKey?: ApiKey;
}

/** Parses a key the user gave; a malformed one is a usage error (exit 2), its message framed by `say`. */
export function parseGivenKey(text: string, say: (problem: string) => string = (problem) => problem): ApiKey {
  try {
    return parseKey(text);
  } catch (error) {
    if (error instanceof KeyFormatError) {
      throw new UsageError(say(error.message), 'malformed_key', { details: { problem: error.problem } });
    }
    throw error;
  }
}

/** SEKUIRE_API_KEY, parsed; undefined when unset. A malformed value is a usage error. */
export function envKey(env: SessionOptions['env']): ApiKey | undefined {
  const text = env[ENV_KEY];
  if (text === undefined || text.trim() === '') return undefined;
  return parseGivenKey(text, (message) => `${ENV_KEY} is not a valid API key: ${message}`);
}

function deviceChanged(path: string, stored: string, current: string): DeviceMismatchError {
  return new DeviceMismatchError(
    `The credentials in ${path} were created on another device (fingerprint ${shortFingerprint(stored, 8)}; this device is ${shortFingerprint(current, 8)}).`,
    'device_changed',
    {
      hint: "Run 'sekuire login' to verify your key on this device",
      details: { path, stored_fingerprint: stored, device_fingerprint: current },
    },
  );
}

/**
 * The device key the stored binding holds: a copy of auth.json without device-key.json (or
 * with another one) is caught here, before anything is sent. A binding made before device keys
 * existed has none to check. A store other than the file (an agent, the keyring, a TPM) that
 * is missing, locked or unreachable fails here, closed.
 */
async function storedProof(
  profile: Profile,
  env: SessionOptions['env'],
  stored: LoadedCredentials,
): Promise<DeviceSigner | undefined> {
  const expected = stored.credentials.device_key;
  const login = loginCommandFor(profile.name);
  const key = await storedSigner(profile.dir, env, stored, login);
  if (expected === '') return key;
  if (key === undefined || key.thumbprint !== expected) {
    throw new DeviceMismatchError(
      `The credentials in ${stored.path} were bound with a device key this machine does not hold (${key === undefined ? 'there is no device-key.json' : key.store === 'file' ? 'device-key.json holds another key' : `${key.where} is another key`}).`,
      'device_key_changed',
      {
        hint: `A copied auth.json does not carry the device: run '${login}' here (moving the key needs an approval)`,
        details: { path: stored.path },
      },
    );
  }
  return key;
}

/** No login: in a named profile, the message names it, and how to fill it. */
function notLoggedIn(profile: Profile): NotLoggedInError {
  if (profile.name === 'default') return new NotLoggedInError();
  const how = profile.from === 'active' ? 'the active profile' : `from ${profile.from}`;
  return new NotLoggedInError(`Not logged in (profile ${profile.name}, ${how})`, {
    hint: `Run 'sekuire login --profile ${profile.name}' to authenticate`,
    details: { profile: profile.name },
  });
}

/**
 * Resolves the key in use and checks, locally, that stored credentials belong to this device.
 * Throws NotLoggedInError when there is no key at all. Never writes anything.
 */
export async function resolveSession(options: SessionOptions): Promise<Session> {
  const notes: string[] = [];
  const { profile } = options;
  const path = credentialsPath(profile.dir);
  const explicit = options.explicitKey;
  const fromEnv = explicit ? undefined : envKey(options.env);
  if (explicit || fromEnv) {
    const backend = options.settings.backend(options.backendFlag);
    if (fromEnv && existsSync(path)) {
      notes.push(`Note: ${ENV_KEY} is set and takes precedence over the login stored in ${path}.`);
    } else if (fromEnv && profile.from === '--profile') {
      notes.push(`Note: ${ENV_KEY} is set and takes precedence over --profile ${profile.name}.`);
    }
    const device = await deviceIdentity(options);
    const proof = readFileSigner(profile.dir);
    return {
      profile,
      ...(proof !== undefined && { proof }),
      key: (explicit ?? fromEnv) as ApiKey,
      source: explicit ? { type: 'stdin' } : { type: 'env', name: ENV_KEY },
      device,
      backend: backend.url,
      backendSource: backend.source,
      notes: [...device.warnings, ...notes],
    };
  }
  const stored = readCredentials(profile.dir);
  if (!stored) throw notLoggedIn(profile);
  notes.push(...stored.warnings);
  const device = await deviceIdentity(options);
  notes.push(...device.warnings);
  if (device.fingerprint !== stored.credentials.device_fingerprint) {
    throw deviceChanged(stored.path, stored.credentials.device_fingerprint, device.fingerprint);
  }
  const proof = await storedProof(profile, options.env, stored);
  const verifiedWith = parseBackendUrl(stored.credentials.backend, stored.path);
  if (options.backendFlag) {
    return {
      key: parseKey(stored.credentials.api_key),
      source: { type: 'file', path: stored.path },
      stored,
      profile,
      device,
      ...(proof !== undefined && { proof }),
      backend: parseBackendUrl(options.backendFlag.value, options.backendFlag.name),
      backendSource: options.backendFlag.name,
      notes,
    };
  }
  // A default set for something else (a variable, config.json) never ships the stored key elsewhere.
  const configured = options.settings.get('backend');
  if (configured && configured.source.type !== 'default' && configured.value !== urlText(verifiedWith)) {
    const name = configured.source.type === 'env' ? configured.source.name : "config.json's backend";
    notes.push(
      `Note: ${name} is not used for the stored key, which was verified with ${urlText(verifiedWith)}; name another backend with --backend to use it.`,
    );
  }
  return {
    key: parseKey(stored.credentials.api_key),
    source: { type: 'file', path: stored.path },
    stored,
    profile,
    device,
    ...(proof !== undefined && { proof }),
    backend: verifiedWith,
    backendSource: `the login stored in ${stored.path}`,
    notes,
  };
}
