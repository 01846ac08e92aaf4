// The wire shapes of PROTOCOL.md, built field by field so no column leaks by accident.
import type { FastifyRequest } from 'fastify';
import type { NamedRow, UserRow } from '../store/queries/accounts.js';
import type { DeviceRow } from '../store/queries/devices.js';
import type { KeyRecord, KeyRow } from '../store/queries/keys.js';
import { ApiError } from './api-error.js';
import { overHttps } from './scheme.js';

/**
 * Where people approve (browser login, moves): this server's own origin, as the client reached it
 * (through a trusted proxy: the scheme and host the proxy says; see trust-proxy.ts).
 */
export function webOrigin(request: FastifyRequest): string {
  return `${overHttps(request) ? 'https' : 'http'}://${request.host}`;
}

/** The CLI's default backend: a login anywhere else must name this server, or it goes there. */
const PUBLIC_API = 'https://api.sekuire.ai';

/** `sekuire login` as a person must type it to reach this server (CLI.md: --backend). */
export function loginCommand(request: FastifyRequest): string {
  const origin = webOrigin(request);
  return origin === PUBLIC_API ? 'sekuire login' : `sekuire login --backend ${origin}`;
}

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
    // The device key the binding holds (device proof); null for a binding made before it.
    key_thumbprint: device.key_thumbprint,
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
    // The type tells the CLI a key bound to no device is a server key, which never binds.
    key: { ...keyJson(record.key), type: record.key.type },
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

/**
 * 409: the key is bound to another machine; says which, never its fingerprint. `sameMachine`:
 * to this machine's fingerprint, but with another device key.
 */
export function deviceMismatch(bound: DeviceRow, sameMachine = false): ApiError {
  const where = sameMachine
    ? `This API key is bound to a device with this machine's fingerprint but another device key (${bound.name}, since ${bound.bound_at}): device-key.json was replaced, or the credentials were copied from another home.`
    : `This API key is bound to another device (${bound.name}, ${bound.os}, since ${bound.bound_at}).`;
  return new ApiError('device_mismatch', where, {
    // os_version tells apart devices that share a name (every VM is "vm"); never the fingerprint.
    bound_device: { name: bound.name, os: bound.os, os_version: bound.os_version, bound_at: bound.bound_at },
    ...(sameMachine && { reason: 'device_key' }),
  });
}
