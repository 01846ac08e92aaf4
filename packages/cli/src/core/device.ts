// This device: machine ID + OS -> fingerprint, and the name and OS shown to people.
import { join } from 'node:path';
import { hmacSha256 } from '@sekuire/shared/sha256';
import { CredentialsFileError } from './errors.js';
import type { Env } from './home.js';
import type { PlatformMachineId } from './machine-id.js';
import { createPrivateFile, readPrivateFile, removeBlankFile } from './private-files.js';
import { cleanText, MAX_NAME } from './text.js';

/** The HMAC key: fingerprints are Sekuire's own, not reusable by other apps' machine-ID hashes. */
const FINGERPRINT_KEY = 'sekuire.device-fingerprint.v1';
export const DEVICE_ID_FILE = 'device-id';
const GENERATED_ID = /^[0-9a-f]{64}$/;

/** Where the machine ID came from: the override, the platform, or a random ID we keep. */
export type MachineIdSource = 'env' | 'machine' | 'generated';

export interface DeviceIdentity {
  /** 64 lowercase hex characters. */
  readonly fingerprint: string;
  readonly idSource: MachineIdSource;
  /** Why the platform's ID was not used (only for 'generated'). */
  readonly weakReason?: string;
  /** The file holding the generated ID (only for 'generated'; absent when it was not kept). */
  readonly idFile?: string;
  /** True when this call created that file: the first login in this home. */
  readonly idCreated?: boolean;
  /** Problems worth telling the user that do not stop us. */
  readonly warnings: readonly string[];
}

export interface DeviceInputs {
  readonly env: Env;
  readonly home: string;
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  readonly readPlatformMachineId: () => Promise<PlatformMachineId>;
}

export type OsName = 'macos' | 'linux' | 'windows' | (string & {});

export function osName(platform: NodeJS.Platform): OsName {
  if (platform === 'darwin') return 'macos';
  if (platform === 'win32') return 'windows';
  return platform;
}

/**
 * A device fact as the backend accepts it and a terminal can show it: one line, no control or
 * format characters, at most 200 characters, never blank (`fallback` instead).
 */
export function deviceFact(text: string, fallback: string): string {
  return cleanText(text, MAX_NAME) || fallback;
}

/** The hostname as a device name, without the `.local` that macOS adds. */
export function deviceName(hostname: string): string {
  return deviceFact(hostname.replace(/\.local$/i, ''), 'unknown');
}

/** HMAC-SHA-256 over the raw machine ID, platform and architecture; the raw ID stays here. */
export function computeFingerprint(machineId: string, platform: string, arch: string): string {
  // Our own HMAC: `status --offline` computes it without loading node:crypto (PERFORMANCE.md).
  return hmacSha256(FINGERPRINT_KEY, `${machineId}\n${platform}\n${arch}`).toString('hex');
}

/** `a1b2c3d4...`: 12 characters after login, 8 in status. */
export function shortFingerprint(fingerprint: string, length: 8 | 12): string {
  return `${fingerprint.slice(0, length)}...`;
}

/** 32 random bytes in hex; node:crypto is loaded here, on the rare path that needs it. */
function randomId(): string {
  return process.getBuiltinModule('node:crypto').randomBytes(32).toString('hex');
}

function corruptId(file: string): CredentialsFileError {
  return new CredentialsFileError('device_id_corrupt', `${file} does not hold a device ID.`, {
    hint: "Remove it, then run 'sekuire login' (this device gets a new identity)",
    details: { path: file },
  });
}

/**
 * The random ID used when the machine has none worth using, kept 0600 beside the credentials.
 * Created only when `create` (login): other commands use a throwaway ID instead, which matches
 * no binding, just as a device that never logged in should. Racing creators agree on whichever
 * file was linked first; an empty file (left by a version that wrote in place and was killed)
 * is replaced.
 */
function generatedMachineId(
  home: string,
  create: boolean,
): { id: string; file?: string; created?: boolean; warnings: readonly string[] } {
  const file = join(home, DEVICE_ID_FILE);
  let created = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = readPrivateFile(file, home);
    if (existing && existing.text.trim() !== '') {
      const id = existing.text.trim();
      if (!GENERATED_ID.test(id)) throw corruptId(file);
      return { id, file, created, warnings: existing.warnings };
    }
    if (!create) return { id: randomId(), warnings: [] };
    if (existing)
      removeBlankFile(home, DEVICE_ID_FILE, { ino: existing.ino, size: Buffer.byteLength(existing.text) });
    if (createPrivateFile(home, DEVICE_ID_FILE, `${randomId()}\n`)) created = true;
  }
  throw new CredentialsFileError('device_id_corrupt', `${file} could not be created.`, {
    hint: `Check ${home}, or set SEKUIRE_MACHINE_ID`,
    details: { path: file },
  });
}

export interface IdentityOptions {
  /** Keep a generated ID in device-id when the machine has none (login only). */
  readonly create?: boolean;
}

/** The fingerprint of this device, from SEKUIRE_MACHINE_ID, the platform's ID, or a kept random ID. */
export async function deviceIdentity(
  inputs: DeviceInputs,
  options: IdentityOptions = {},
): Promise<DeviceIdentity> {
  const override = inputs.env.SEKUIRE_MACHINE_ID?.trim();
  if (override) {
    return {
      fingerprint: computeFingerprint(override, inputs.platform, inputs.arch),
      idSource: 'env',
      warnings: [],
    };
  }
  const platformId = await inputs.readPlatformMachineId();
  if ('id' in platformId) {
    return {
      fingerprint: computeFingerprint(platformId.id, inputs.platform, inputs.arch),
      idSource: 'machine',
      warnings: [],
    };
  }
  const generated = generatedMachineId(inputs.home, options.create === true);
  return {
    fingerprint: computeFingerprint(generated.id, inputs.platform, inputs.arch),
    idSource: 'generated',
    weakReason: platformId.unusable,
    ...(generated.file ? { idFile: generated.file } : {}),
    ...(generated.created ? { idCreated: true } : {}),
    warnings: generated.warnings,
  };
}

/**
 * The warning shown when binding rests on a generated ID rather than the machine's own: one
 * line of at most 120 characters, once per home (when the ID file is created), with the fix.
 * In a container it showed on every login, 318 characters long.
 */
export function weakBindingWarning(identity: DeviceIdentity): string | undefined {
  if (identity.idSource !== 'generated' || identity.idCreated !== true) return undefined;
  return 'Warning: no usable machine ID here, so a random one is kept in device-id. Fix: set SEKUIRE_MACHINE_ID to a stable value.';
}
