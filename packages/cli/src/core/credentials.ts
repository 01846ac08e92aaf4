// auth.json: the stored login; read, validated, written atomically with mode 0600, removed.
import { join } from 'node:path';
import { KeyFormatError, parseKey } from '@sekuire/shared/key';
import { CredentialsFileError } from './errors.js';
import { KEY_STORES, type KeyStoreName } from './key-store/names.js';
import {
  checkWritable,
  readPrivateFile,
  removePrivateFile,
  writePrivateFileAtomic,
} from './private-files.js';

export const CREDENTIALS_FILE = 'auth.json';
const FORMAT_VERSION = 1;

/** What auth.json holds; field names are the documented file format (snake_case). */
export interface StoredCredentials {
  readonly version: number;
  readonly api_key: string;
  readonly key_id: string;
  readonly environment: string;
  readonly device_fingerprint: string;
  readonly device_name: string;
  readonly os: string;
  readonly user_id: string;
  readonly user_email: string;
  readonly org_id: string;
  readonly org_name: string;
  readonly workspace_id: string;
  readonly workspace_name: string;
  /** The backend that verified the key: the only one the key is sent to by default. */
  readonly backend: string;
  readonly verified_at: string;
  /** The thumbprint of the device key the binding holds; '' for a binding made without one. */
  readonly device_key: string;
  /** When the key expires (ISO 8601), as the backend said at login; '' for a key that never does, or an older login. */
  readonly expires_at: string;
  /** Where the device key's private half is (key-store/): absent in a login made before stores, i.e. file. */
  readonly key_store?: KeyStoreName;
  /** With the agent store: the agent key's fingerprint as `ssh-add -l` prints it (SHA256:…). */
  readonly agent_key?: string;
}

export interface LoadedCredentials {
  readonly credentials: StoredCredentials;
  readonly path: string;
  readonly warnings: readonly string[];
  /** Fields this version does not know (a newer version's, e.g. key_store), kept so a rewrite can carry them. */
  readonly extra: Readonly<Record<string, unknown>>;
}

export function credentialsPath(home: string): string {
  return join(home, CREDENTIALS_FILE);
}

function corrupt(path: string, why: string): CredentialsFileError {
  return new CredentialsFileError('credentials_corrupt', `${path} ${why}.`, {
    hint: "Run 'sekuire logout' to remove it, then 'sekuire login' to sign in again",
    details: { path },
  });
}

const REQUIRED_STRINGS = [
  'api_key',
  'device_fingerprint',
  'backend',
  'org_id',
  'workspace_id',
] as const satisfies readonly (keyof StoredCredentials)[];

const OPTIONAL_STRINGS = [
  'key_id',
  'environment',
  'device_name',
  'os',
  'user_id',
  'user_email',
  'org_name',
  'workspace_name',
  'verified_at',
  'device_key',
  'expires_at',
  'key_store',
  'agent_key',
] as const satisfies readonly (keyof StoredCredentials)[];

/** Checks the shape of parsed JSON; anything unexpected is reported, not guessed at. */
function validate(path: string, value: unknown): StoredCredentials {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw corrupt(path, 'does not hold a JSON object');
  }
  const record = value as Record<string, unknown>;
  for (const field of REQUIRED_STRINGS) {
    if (record[field] === undefined || record[field] === null || record[field] === '') {
      throw corrupt(path, `has no "${field}"`);
    }
    if (typeof record[field] !== 'string') throw corrupt(path, `has a "${field}" that is not a string`);
  }
  for (const field of OPTIONAL_STRINGS) {
    if (record[field] !== undefined && typeof record[field] !== 'string') {
      throw corrupt(path, `has a "${field}" that is not a string`);
    }
  }
  try {
    parseKey(record.api_key as string);
  } catch (error) {
    if (error instanceof KeyFormatError) throw corrupt(path, 'holds an API key that is not well-formed');
    throw error;
  }
  if (!/^[0-9a-f]{64}$/.test(record.device_fingerprint as string)) {
    throw corrupt(path, 'holds a device fingerprint that is not 64 hex characters');
  }
  const text = (field: (typeof OPTIONAL_STRINGS)[number]) => (record[field] as string | undefined) ?? '';
  const keyStore = text('key_store') || 'file';
  if (!(KEY_STORES as readonly string[]).includes(keyStore)) {
    throw corrupt(path, `names a key store this sekuire does not know ("${keyStore}")`);
  }
  if (keyStore === 'agent' && !/^SHA256:[A-Za-z0-9+/]{43}$/.test(text('agent_key'))) {
    throw corrupt(path, "names the agent store without the agent key's SHA256 fingerprint");
  }
  return {
    version: typeof record.version === 'number' ? record.version : FORMAT_VERSION,
    api_key: record.api_key as string,
    device_fingerprint: record.device_fingerprint as string,
    backend: record.backend as string,
    org_id: record.org_id as string,
    workspace_id: record.workspace_id as string,
    key_id: text('key_id'),
    environment: text('environment'),
    device_name: text('device_name'),
    os: text('os'),
    user_id: text('user_id'),
    user_email: text('user_email'),
    org_name: text('org_name'),
    workspace_name: text('workspace_name'),
    verified_at: text('verified_at'),
    device_key: text('device_key'),
    expires_at: text('expires_at'),
    // Read back as written: a login made before stores has none (the file store).
    ...(record.key_store !== undefined && { key_store: keyStore as KeyStoreName }),
    ...(keyStore === 'agent' && { agent_key: text('agent_key') }),
  };
}

const KNOWN = new Set<string>(['version', ...REQUIRED_STRINGS, ...OPTIONAL_STRINGS]);

function extraFields(value: unknown): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value as Record<string, unknown>)) {
    if (!KNOWN.has(name)) extra[name] = field;
  }
  return extra;
}

/** The stored login, or undefined when there is none. Throws CredentialsFileError with a fix. */
export function readCredentials(home: string): LoadedCredentials | undefined {
  const path = credentialsPath(home);
  const file = readPrivateFile(path, home);
  if (!file) return undefined;
  if (file.text.trim() === '') throw corrupt(path, 'is empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(file.text);
  } catch {
    throw corrupt(path, 'is not valid JSON');
  }
  return { credentials: validate(path, parsed), path, warnings: file.warnings, extra: extraFields(parsed) };
}

/**
 * Replaces auth.json atomically (see private-files.ts); returns its path. `extra`: fields of
 * other versions or features (e.g. key_store) to keep; the known fields always win.
 */
export function writeCredentials(
  home: string,
  credentials: Omit<StoredCredentials, 'version' | 'expires_at'> & { readonly expires_at?: string },
  extra: Readonly<Record<string, unknown>> = {},
): string {
  const record = { ...extra, version: FORMAT_VERSION, ...credentials };
  return writePrivateFileAtomic(home, CREDENTIALS_FILE, `${JSON.stringify(record, null, 2)}\n`);
}

/** Removes auth.json (and temp files a killed writer left of it); false when there was none. */
export function removeCredentials(home: string): boolean {
  return removePrivateFile(home, CREDENTIALS_FILE);
}

/** About what auth.json takes; the check before a login writes a temp file this large. */
const TYPICAL_SIZE = 1024;

/**
 * Checks that auth.json can be written, before a login sends anything: `create` makes the
 * directory and writes (then removes) a temp file; without it, nothing is created.
 */
export function checkCredentialsWritable(home: string, create: boolean): void {
  checkWritable(home, CREDENTIALS_FILE, { create, size: TYPICAL_SIZE });
}
