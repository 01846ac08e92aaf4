// The wire shapes of PROTOCOL.md, built field by field so no column leaks by accident.
import type { NamedRow, UserRow } from '../store/queries/accounts.js';
import type { DeviceRow } from '../store/queries/devices.js';
import type { KeyRecord, KeyRow } from '../store/queries/keys.js';
import { ApiError } from './api-error.js';

export function userJson(user: UserRow) {
  return { id: user.id, email: user.email, name: user.name };
}

export function namedJson(row: NamedRow) {
  return { id: row.id, name: row.name };
}

export function keyJson(key: KeyRow) {
  return {
    id: key.id,
    name: key.name,
    environment: key.environment,
    masked: key.masked,
    created_at: key.created_at,
    expires_at: key.expires_at,
  };
}

export function deviceJson(device: DeviceRow, rebound = false) {
  return {
    id: device.id,
    fingerprint: device.fingerprint,
    name: device.name,
    os: device.os,
    bound_at: device.bound_at,
    rebound,
  };
}

export function loginJson(
  record: Pick<KeyRecord, 'user' | 'organization' | 'workspace' | 'key'>,
  device: DeviceRow,
  rebound: boolean,
) {
  return {
    user: userJson(record.user),
    organization: namedJson(record.organization),
    workspace: namedJson(record.workspace),
    key: keyJson(record.key),
    device: deviceJson(device, rebound),
  };
}

export function statusJson(record: KeyRecord, device: DeviceRow | undefined) {
  return {
    key: keyJson(record.key),
    device: device === undefined ? null : deviceJson(device),
    organization: namedJson(record.organization),
    workspace: namedJson(record.workspace),
  };
}

export function whoamiJson(record: KeyRecord, device: DeviceRow | undefined) {
  return {
    user: userJson(record.user),
    organization: namedJson(record.organization),
    workspace: namedJson(record.workspace),
    device: device === undefined ? null : deviceJson(device),
  };
}

/** 409: the key is bound to another machine; says which, never its fingerprint. */
export function deviceMismatch(bound: DeviceRow): ApiError {
  return new ApiError(
    409,
    'device_mismatch',
    `This API key is bound to another device (${bound.name}, ${bound.os}, since ${bound.bound_at}).`,
    { bound_device: { name: bound.name, os: bound.os, bound_at: bound.bound_at } },
  );
}
