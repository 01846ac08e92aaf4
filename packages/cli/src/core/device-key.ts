// This device's key pair (P-256): the private half in device-key.json, which proves the device on every request.
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { jwkThumbprint, type PublicJwk, parsePublicJwk } from '@sekuire/shared/proof-format';
import { CredentialsFileError } from './errors.js';
import { createPrivateFile, readPrivateFile } from './private-files.js';

export const DEVICE_KEY_FILE = 'device-key.json';
const FORMAT_VERSION = 1;

export interface DeviceKey {
  readonly privateKey: KeyObject;
  readonly publicJwk: PublicJwk;
  /** RFC 7638 thumbprint: the keyid of every proof, and what auth.json records. */
  readonly thumbprint: string;
  readonly path: string;
  readonly warnings: readonly string[];
}

function corrupt(path: string): CredentialsFileError {
  return new CredentialsFileError('device_key_corrupt', `${path} does not hold a device key.`, {
    hint: `Remove it, then run 'sekuire login' (this device gets a new key; a move of its bindings must then be approved)`,
    details: { path },
  });
}

function parse(path: string, text: string, warnings: readonly string[]): DeviceKey {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw corrupt(path);
  }
  const publicJwk = parsePublicJwk(record);
  if (publicJwk === undefined || typeof record.d !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(record.d)) {
    throw corrupt(path);
  }
  const d = record.d;
  let privateKey: KeyObject | undefined;
  return {
    // Imported at the first signature, not here: `status --offline` checks the thumbprint only,
    // and never loads node:crypto. JWK, not PEM: a JWK private key loads in ~0.1 ms, PEM ~0.75.
    get privateKey() {
      if (privateKey === undefined) {
        try {
          privateKey = process
            .getBuiltinModule('node:crypto')
            .createPrivateKey({ key: { ...publicJwk, d }, format: 'jwk' });
        } catch {
          throw corrupt(path);
        }
      }
      return privateKey;
    },
    publicJwk,
    thumbprint: jwkThumbprint(publicJwk),
    path,
    warnings,
  };
}

/** The device key, or undefined when this device has none yet. Only login creates one. */
export function readDeviceKey(home: string): DeviceKey | undefined {
  const path = join(home, DEVICE_KEY_FILE);
  const file = readPrivateFile(path, home);
  if (file === undefined) return undefined;
  return parse(path, file.text, file.warnings);
}

/** A private P-256 key as a JWK. */
export interface PrivateP256Jwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly d: string;
}

/**
 * A new P-256 key, made with ECDH rather than generateKeyPairSync and export({ format: 'jwk' }):
 * on Node 20 a garbage collection during that export can free the finished key-generation job,
 * whose destructor takes the lock the export holds, and the process hangs for good (seen in the
 * test suite: ~KeyGenJob -> uv_mutex_lock under ExportJWKEcKey).
 */
export function newP256Jwk(): PrivateP256Jwk {
  const ecdh = process.getBuiltinModule('node:crypto').createECDH('prime256v1');
  // Uncompressed: 0x04, then x and y, 32 bytes each.
  const point = ecdh.generateKeys();
  // The private scalar without its leading zero bytes: a JWK's d is always 32 bytes.
  const scalar = ecdh.getPrivateKey();
  const d = Buffer.concat([Buffer.alloc(32 - scalar.length), scalar]);
  return {
    kty: 'EC',
    crv: 'P-256',
    x: point.subarray(1, 33).toString('base64url'),
    y: point.subarray(33, 65).toString('base64url'),
    d: d.toString('base64url'),
  };
}

/**
 * The device key, created on first use: generated here, written 0600 with an exclusive create
 * (two logins at once agree on the one that won), never replaced: it is the device's identity,
 * and `logout` keeps it.
 */
export function ensureDeviceKey(home: string): DeviceKey {
  const existing = readDeviceKey(home);
  if (existing !== undefined) return existing;
  const jwk = newP256Jwk();
  const record = {
    version: FORMAT_VERSION,
    kty: jwk.kty,
    crv: jwk.crv,
    x: jwk.x,
    y: jwk.y,
    d: jwk.d,
    created_at: new Date().toISOString(),
  };
  createPrivateFile(home, DEVICE_KEY_FILE, `${JSON.stringify(record, null, 2)}\n`);
  const created = readDeviceKey(home);
  if (created === undefined) throw corrupt(join(home, DEVICE_KEY_FILE));
  return created;
}
