// Strict checks of what a client sends: request bodies and the device header.
import { createPublicKey } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { KEY_ENVIRONMENTS, type KeyEnvironment } from '@sekuire/shared/key';
import { type PublicJwk, parsePublicJwk } from '@sekuire/shared/proof-format';
import { KEY_DEFAULTS } from '../domain/keys.js';
import { MAX_EXPIRY_DAYS, MAX_GRACE_SECONDS, type RollRequest } from '../domain/managed-keys.js';
import { MAX_PASSWORD_LENGTH } from '../domain/passwords.js';
import { normalizePermissions, permissionsProblem } from '../domain/permissions.js';
import { MAX_TEXT_LENGTH, textProblem, textRuleWords } from '../domain/text.js';
import type { DeviceFacts } from '../store/queries/devices.js';
import { KEY_TYPES, type KeyType } from '../store/queries/keys.js';
import { ApiError } from './api-error.js';

export const FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;
export const DEVICE_HEADER = 'x-sekuire-device';
export { MAX_TEXT_LENGTH };

export interface LoginRequest {
  readonly device: DeviceFacts;
  /** The device key's public half (device proof); absent from older CLIs. */
  readonly publicKey: PublicJwk | undefined;
  readonly rebind: boolean;
}

export function invalid(field: string, message: string): ApiError {
  return new ApiError('invalid_request', message, { field });
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string a person will read, checked by the one text rule (domain/text.ts). */
export function readableText(value: unknown, field: string, optional = false): string {
  if (typeof value !== 'string') throw invalid(field, `${field} must be a string.`);
  const problem = textProblem(value, { optional });
  if (problem !== undefined) throw invalid(field, `${field} must ${textRuleWords(problem)}.`);
  return value;
}

function text(record: Record<string, unknown>, name: string, path: string, allowEmpty = false): string {
  return readableText(record[name], `${path}.${name}`, allowEmpty);
}

/** Unknown fields are ignored, so clients can send more than this version knows. */
export function parseLoginBody(body: unknown): LoginRequest {
  if (!isObject(body)) throw invalid('body', 'The request body must be a JSON object.');
  const facts = parseDeviceFacts(body.device);
  const rebind = body.rebind;
  if (rebind !== undefined && typeof rebind !== 'boolean')
    throw invalid('rebind', 'rebind must be true or false.');
  return { device: facts, publicKey: parseDevicePublicKey(body.device), rebind: rebind === true };
}

function onCurve(jwk: PublicJwk): boolean {
  try {
    createPublicKey({ key: { ...jwk }, format: 'jwk' });
    return true;
  } catch {
    return false;
  }
}

/** The body of POST /api/v1/cli/device-key: the new public key and the new key's possession signature. */
export function parseRotationBody(body: unknown): { publicKey: PublicJwk; possession: string } {
  if (!isObject(body)) throw invalid('body', 'The request body must be a JSON object.');
  const publicKey = parseDevicePublicKey(body);
  if (publicKey === undefined)
    throw invalid('public_key', 'public_key is required: the new P-256 public key as a JWK.');
  const possession = body.possession;
  if (typeof possession !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(possession)) {
    throw invalid(
      'possession',
      "possession must be the new key's 64-byte signature, base64url without padding.",
    );
  }
  return { publicKey, possession };
}

/** device.public_key: a P-256 public JWK (kty EC, crv P-256, x, y); undefined when absent. */
export function parseDevicePublicKey(device: unknown): PublicJwk | undefined {
  if (!isObject(device) || device.public_key === undefined) return undefined;
  const jwk = parsePublicJwk(device.public_key);
  if (jwk === undefined || (isObject(device.public_key) && 'd' in device.public_key) || !onCurve(jwk)) {
    throw invalid(
      'device.public_key',
      'device.public_key must be a P-256 public key as a JWK: {"kty":"EC","crv":"P-256","x":…,"y":…} (never the private part).',
    );
  }
  return jwk;
}

/** The device object of a login, a device-code request or a token request. */
export function parseDeviceFacts(device: unknown): DeviceFacts {
  if (!isObject(device)) throw invalid('device', 'device must be an object.');
  const fingerprint = device.fingerprint;
  if (typeof fingerprint !== 'string' || !FINGERPRINT_PATTERN.test(fingerprint)) {
    throw invalid('device.fingerprint', 'device.fingerprint must be 64 lowercase hexadecimal characters.');
  }
  const facts: DeviceFacts = {
    fingerprint,
    name: text(device, 'name', 'device'),
    os: text(device, 'os', 'device'),
    os_version: text(device, 'os_version', 'device', true),
    arch: text(device, 'arch', 'device'),
  };
  return facts;
}

/** The X-Sekuire-Device header every call after login carries. */
export function deviceFingerprint(headers: IncomingHttpHeaders): string {
  const value = headers[DEVICE_HEADER];
  if (value === undefined) {
    throw invalid('X-Sekuire-Device', 'The X-Sekuire-Device header is missing.');
  }
  if (typeof value !== 'string' || !FINGERPRINT_PATTERN.test(value)) {
    throw invalid(
      'X-Sekuire-Device',
      'The X-Sekuire-Device header must be 64 lowercase hexadecimal characters.',
    );
  }
  return value;
}

const MAX_EMAIL_LENGTH = 254;

function bodyObject(body: unknown): Record<string, unknown> {
  if (!isObject(body)) throw invalid('body', 'The request body must be a JSON object.');
  return body;
}

function string(record: Record<string, unknown>, name: string, max: number): string {
  const value = record[name];
  if (typeof value !== 'string' || value === '') throw invalid(name, `${name} is required (a string).`);
  if (value.length > max) throw invalid(name, `${name} must be at most ${max} characters.`);
  return value;
}

export interface SignInRequest {
  readonly email: string;
  readonly password: string;
}

export function parseSignInBody(body: unknown): SignInRequest {
  const record = bodyObject(body);
  return {
    email: string(record, 'email', MAX_EMAIL_LENGTH).trim(),
    password: string(record, 'password', MAX_PASSWORD_LENGTH),
  };
}

export function parseRefreshBody(body: unknown): string {
  return string(bodyObject(body), 'refresh_token', 100);
}

export interface NewKeyBody {
  readonly name: string;
  readonly environment: KeyEnvironment;
  readonly type: KeyType;
  readonly expiresInDays: number | null;
  readonly workspaceId?: string;
  readonly permissions: readonly string[];
}

/** `permissions`: an array of permission strings (domain/permissions.ts); undefined when absent. */
function permissionList(record: Record<string, unknown>): string[] | undefined {
  const value = record.permissions;
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalid('permissions', 'permissions must be an array of strings.');
  const problem = permissionsProblem(value);
  if (problem !== undefined) throw invalid('permissions', `permissions: ${problem}`);
  return normalizePermissions(value as string[]);
}

function oneOf<T extends string>(
  record: Record<string, unknown>,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = record[name];
  if (value === undefined) return fallback;
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw invalid(name, `${name} must be one of: ${allowed.join(', ')}.`);
  return found;
}

function wholeNumber(
  record: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const value = record[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, `${name} must be a whole number from ${min} to ${max}.`);
  }
  return value;
}

/** A key's name: shown in lists; one line, not blank. */
export function keyName(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw invalid('name', 'name is required: a name for the key.');
  return readableText(value, 'name').trim();
}

export function parseNewKeyBody(body: unknown): NewKeyBody {
  const record = bodyObject(body);
  const workspace = record.workspace_id;
  if (
    workspace !== undefined &&
    (typeof workspace !== 'string' || workspace === '' || workspace.length > 64)
  ) {
    throw invalid('workspace_id', 'workspace_id must be a workspace id (ws_...).');
  }
  return {
    name: keyName(record.name),
    environment: oneOf(record, 'environment', KEY_ENVIRONMENTS, KEY_DEFAULTS.environment),
    type: oneOf(record, 'type', KEY_TYPES, 'client'),
    // Absent: the default lifetime; null: never expires.
    expiresInDays:
      record.expires_in_days === null
        ? null
        : (wholeNumber(record, 'expires_in_days', 1, MAX_EXPIRY_DAYS) ?? KEY_DEFAULTS.expiresInDays),
    ...(typeof workspace === 'string' && { workspaceId: workspace }),
    permissions: permissionList(record) ?? [],
  };
}

/**
 * Seconds the old key keeps working after a roll (default 0: it stops at once), and the new
 * key's permissions (default: the old key's).
 */
export function parseRollBody(body: unknown): RollRequest {
  if (body === undefined) return { graceSeconds: 0 };
  const record = bodyObject(body);
  const permissions = permissionList(record);
  return {
    graceSeconds: wholeNumber(record, 'grace_seconds', 0, MAX_GRACE_SECONDS) ?? 0,
    ...(permissions !== undefined && { permissions }),
  };
}

export type TokenRequest =
  | {
      readonly grantType: 'authorization_code';
      readonly code: string;
      readonly verifier: string;
      readonly redirectUri: string;
      readonly device: DeviceFacts;
      readonly publicKey: PublicJwk;
    }
  | { readonly grantType: 'device_code'; readonly deviceCode: string }
  | { readonly grantType: 'move'; readonly moveId: string };

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** PROTOCOL.md "Moving a key": the new device polls for the move it asked for. */
export const MOVE_GRANT = 'urn:sekuire:move';

/** device.public_key where a new binding is made: every binding from now on holds a device key. */
export function requiredPublicKey(device: unknown): PublicJwk {
  const key = parseDevicePublicKey(device);
  if (key === undefined) {
    throw invalid(
      'device.public_key',
      'device.public_key is required: a new key is bound to the device key that signs this request. Update the sekuire CLI.',
    );
  }
  return key;
}
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const VERIFIER_PATTERN = /^[A-Za-z0-9._~-]{43,128}$/;

export function parseTokenBody(body: unknown): TokenRequest {
  const record = bodyObject(body);
  const grantType = record.grant_type;
  if (grantType === 'authorization_code') {
    const verifier = record.code_verifier;
    if (typeof verifier !== 'string' || !VERIFIER_PATTERN.test(verifier)) {
      throw invalid(
        'code_verifier',
        'code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636).',
      );
    }
    return {
      grantType,
      code: string(record, 'code', 100),
      verifier,
      redirectUri: string(record, 'redirect_uri', 2000),
      device: parseDeviceFacts(record.device),
      publicKey: requiredPublicKey(record.device),
    };
  }
  if (grantType === DEVICE_CODE_GRANT)
    return { grantType: 'device_code', deviceCode: string(record, 'device_code', 100) };
  if (grantType === MOVE_GRANT) return { grantType: 'move', moveId: string(record, 'move_id', 100) };
  throw new ApiError(
    'unsupported_grant_type',
    `grant_type must be authorization_code, ${DEVICE_CODE_GRANT} or ${MOVE_GRANT}.`,
    {
      field: 'grant_type',
    },
  );
}

export function parseDeviceCodeBody(body: unknown): { device: DeviceFacts; publicKey: PublicJwk } {
  const device = bodyObject(body).device;
  return { device: parseDeviceFacts(device), publicKey: requiredPublicKey(device) };
}

/** GET /api/v1/keys: 100 keys a page unless asked; 1,000 at most (~600 KB of JSON). */
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

function queryNumber(
  query: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw invalid(name, `${name} must be a whole number from ${min} to ${max}.`);
  }
  return Number(value);
}

export function parseListQuery(query: unknown): { limit: number; offset: number } {
  const record = isObject(query) ? query : {};
  return {
    limit: queryNumber(record, 'limit', 1, MAX_LIST_LIMIT) ?? DEFAULT_LIST_LIMIT,
    offset: queryNumber(record, 'offset', 0, 100_000_000) ?? 0,
  };
}
