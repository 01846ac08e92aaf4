// Strict checks of what a client sends: request bodies and the device header.
import type { IncomingHttpHeaders } from 'node:http';
import { KEY_ENVIRONMENTS, type KeyEnvironment } from '../../core/key.js';
import { MAX_EXPIRY_DAYS, MAX_GRACE_SECONDS } from '../domain/managed-keys.js';
import { MAX_PASSWORD_LENGTH } from '../domain/passwords.js';
import type { DeviceFacts } from '../store/queries/devices.js';
import { KEY_TYPES, type KeyType } from '../store/queries/keys.js';
import { ApiError } from './api-error.js';

export const FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;
export const DEVICE_HEADER = 'x-sekuire-device';
/** Device names and OS strings are shown to people; nothing legitimate is longer. */
export const MAX_TEXT_LENGTH = 200;

export interface LoginRequest {
  readonly device: DeviceFacts;
  readonly rebind: boolean;
}

export function invalid(field: string, message: string): ApiError {
  return new ApiError(400, 'invalid_request', message, { field });
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Control characters, and format characters (bidi overrides, zero-width): a name that reorders
// or hides text on the approval page could pass for another device.
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting them is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\p{Cf}]/u;

function text(record: Record<string, unknown>, name: string, path: string, allowEmpty = false): string {
  const value = record[name];
  const field = `${path}.${name}`;
  if (typeof value !== 'string') throw invalid(field, `${field} must be a string.`);
  if (!allowEmpty && value.trim() === '') throw invalid(field, `${field} must not be empty.`);
  if (value.length > MAX_TEXT_LENGTH) {
    throw invalid(field, `${field} must be at most ${MAX_TEXT_LENGTH} characters.`);
  }
  if (CONTROL_CHARACTERS.test(value)) throw invalid(field, `${field} must not contain control characters.`);
  return value;
}

/** Unknown fields are ignored, so clients can send more than this version knows. */
export function parseLoginBody(body: unknown): LoginRequest {
  if (!isObject(body)) throw invalid('body', 'The request body must be a JSON object.');
  const facts = parseDeviceFacts(body.device);
  const rebind = body.rebind;
  if (rebind !== undefined && typeof rebind !== 'boolean')
    throw invalid('rebind', 'rebind must be true or false.');
  return { device: facts, rebind: rebind === true };
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
  if (value.length > MAX_TEXT_LENGTH)
    throw invalid('name', `name must be at most ${MAX_TEXT_LENGTH} characters.`);
  if (CONTROL_CHARACTERS.test(value)) throw invalid('name', 'name must not contain control characters.');
  return value.trim();
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
    environment: oneOf(record, 'environment', KEY_ENVIRONMENTS, 'test'),
    type: oneOf(record, 'type', KEY_TYPES, 'client'),
    expiresInDays: wholeNumber(record, 'expires_in_days', 1, MAX_EXPIRY_DAYS) ?? null,
    ...(typeof workspace === 'string' && { workspaceId: workspace }),
  };
}

/** Seconds the old key keeps working after a roll (default 0: it stops at once). */
export function parseRollBody(body: unknown): number {
  if (body === undefined) return 0;
  return wholeNumber(bodyObject(body), 'grace_seconds', 0, MAX_GRACE_SECONDS) ?? 0;
}

export type TokenRequest =
  | {
      readonly grantType: 'authorization_code';
      readonly code: string;
      readonly verifier: string;
      readonly redirectUri: string;
      readonly device: DeviceFacts;
    }
  | { readonly grantType: 'device_code'; readonly deviceCode: string };

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
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
    };
  }
  if (grantType === DEVICE_CODE_GRANT)
    return { grantType: 'device_code', deviceCode: string(record, 'device_code', 100) };
  throw new ApiError(
    400,
    'unsupported_grant_type',
    `grant_type must be authorization_code or ${DEVICE_CODE_GRANT}.`,
    {
      field: 'grant_type',
    },
  );
}

export function parseDeviceCodeBody(body: unknown): DeviceFacts {
  return parseDeviceFacts(bodyObject(body).device);
}
