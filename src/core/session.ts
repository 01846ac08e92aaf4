// Which key to use (SEKUIRE_API_KEY, else auth.json), for which backend, from this device.
import { existsSync } from 'node:fs';
import { parseBackendUrl } from './backend-url.js';
import { credentialsPath, type LoadedCredentials, readCredentials } from './credentials.js';
import { type DeviceIdentity, type DeviceInputs, deviceIdentity, shortFingerprint } from './device.js';
import { DeviceMismatchError, NotLoggedInError, UsageError } from './errors.js';
import { type ApiKey, KeyFormatError, parseKey } from './key.js';

export const DEFAULT_BACKEND_URL = 'https://api.sekuire.ai';
export const DEFAULT_WEB_URL = 'https://sekuire.ai';
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
  readonly device: DeviceIdentity;
  readonly backend: URL;
  /** Things to tell the user on stderr; none stops the command. */
  readonly notes: readonly string[];
}

export interface SessionOptions extends DeviceInputs {
  /** A backend named by a flag (--backend-url, --url): the only way to send a stored key elsewhere. */
  readonly backendFlag?: { readonly value: string; readonly name: string };
  /** A key given for this command only (auth test --with-key). */
  readonly explicitKey?: ApiKey;
}

/** The backend for a key that has no stored backend: the flag, SEKUIRE_BACKEND_URL, the default. */
export function defaultBackend(options: Pick<SessionOptions, 'env' | 'backendFlag'>): URL {
  if (options.backendFlag) return parseBackendUrl(options.backendFlag.value, options.backendFlag.name);
  const fromEnv = options.env.SEKUIRE_BACKEND_URL?.trim();
  if (fromEnv) return parseBackendUrl(fromEnv, 'SEKUIRE_BACKEND_URL');
  return parseBackendUrl(DEFAULT_BACKEND_URL, 'the default');
}

/** Parses a key the user gave; a malformed one is a usage error (exit 2), its message framed by `say`. */
export function parseGivenKey(text: string, say: (problem: string) => string = (problem) => problem): ApiKey {
  try {
    return parseKey(text);
  } catch (error) {
    if (error instanceof KeyFormatError) {
      throw new UsageError(say(error.message), 'malformed_key', { problem: error.problem });
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
    `The credentials in ${path} were created on another device (fingerprint ${shortFingerprint(stored, 8)}; this device is ${shortFingerprint(current, 8)}). Run 'sekuire login' to verify your key on this device.`,
    'device_changed',
    { path, stored_fingerprint: stored, device_fingerprint: current },
  );
}

/**
 * Resolves the key in use and checks, locally, that stored credentials belong to this device.
 * Throws NotLoggedInError when there is no key at all.
 */
export async function resolveSession(options: SessionOptions): Promise<Session> {
  const notes: string[] = [];
  const path = credentialsPath(options.home);
  const explicit = options.explicitKey;
  const fromEnv = explicit ? undefined : envKey(options.env);
  if (explicit || fromEnv) {
    if (fromEnv && existsSync(path)) {
      notes.push(`Note: ${ENV_KEY} is set and takes precedence over the login stored in ${path}.`);
    }
    const device = await deviceIdentity(options);
    return {
      key: (explicit ?? fromEnv) as ApiKey,
      source: explicit ? { type: 'stdin' } : { type: 'env', name: ENV_KEY },
      device,
      backend: defaultBackend(options),
      notes: [...device.warnings, ...notes],
    };
  }
  const stored = readCredentials(options.home);
  if (!stored) throw new NotLoggedInError();
  notes.push(...stored.warnings);
  const device = await deviceIdentity(options);
  notes.push(...device.warnings);
  if (device.fingerprint !== stored.credentials.device_fingerprint) {
    throw deviceChanged(stored.path, stored.credentials.device_fingerprint, device.fingerprint);
  }
  const verifiedWith = parseBackendUrl(stored.credentials.backend, stored.path);
  const envBackend = options.env.SEKUIRE_BACKEND_URL?.trim();
  if (
    !options.backendFlag &&
    envBackend &&
    envBackend.replace(/\/+$/, '') !== verifiedWith.href.replace(/\/$/, '')
  ) {
    notes.push(
      `Note: SEKUIRE_BACKEND_URL is not used for the stored key, which was verified with ${verifiedWith.href.replace(/\/$/, '')}; name another backend with a flag to use it.`,
    );
  }
  return {
    key: parseKey(stored.credentials.api_key),
    source: { type: 'file', path: stored.path },
    stored,
    device,
    backend: options.backendFlag
      ? parseBackendUrl(options.backendFlag.value, options.backendFlag.name)
      : verifiedWith,
    notes,
  };
}
