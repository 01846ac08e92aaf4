// Strict checks of what a client sends: the login body and the device header.
import type { IncomingHttpHeaders } from 'node:http';
import type { DeviceFacts } from '../store/queries/devices.js';
import { ApiError } from './api-error.js';

export const FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;
export const DEVICE_HEADER = 'x-sekuire-device';
/** Device names and OS strings are shown to people; nothing legitimate is longer. */
export const MAX_TEXT_LENGTH = 200;

export interface LoginRequest {
  readonly device: DeviceFacts;
  readonly rebind: boolean;
}

function invalid(field: string, message: string): ApiError {
  return new ApiError(400, 'invalid_request', message, { field });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting them is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

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
  const device = body.device;
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
  const rebind = body.rebind;
  if (rebind !== undefined && typeof rebind !== 'boolean')
    throw invalid('rebind', 'rebind must be true or false.');
  return { device: facts, rebind: rebind === true };
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
