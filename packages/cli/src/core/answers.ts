// What the backend answers, read as typed values that are safe to show: the wire shapes and their parsers.
import type { ApiKey } from '@sekuire/shared/key';
import type { PublicJwk } from '@sekuire/shared/proof-format';
import { redactKeys } from './redact.js';
import { cleanText, MAX_NAME } from './text.js';

export interface UserInfo {
  readonly id: string;
  readonly email: string;
  readonly name: string;
}
export interface NamedEntity {
  readonly id: string;
  readonly name: string;
}
export interface KeyInfo {
  readonly id: string;
  readonly name: string;
  readonly environment: string;
  readonly masked: string;
  readonly created_at: string;
  readonly expires_at: string | null;
  /** `client` or `server` (status only, newer backends); '' when the backend does not say. */
  readonly type: string;
}
export interface BoundDevice {
  readonly id: string;
  readonly fingerprint: string;
  readonly name: string;
  readonly os: string;
  readonly bound_at: string;
  readonly rebound: boolean;
  /** The thumbprint of the device key the binding holds (device proof); absent for older backends. */
  readonly key_thumbprint?: string;
}
export interface LoginResponse {
  readonly user: UserInfo;
  readonly organization: NamedEntity;
  readonly workspace: NamedEntity;
  readonly key: KeyInfo;
  readonly device: BoundDevice;
}
/** Extension: this device's binding of a key that is bound to no device now, and how it ended. */
export interface PastBinding {
  readonly bound_at: string;
  readonly ended_at: string;
  readonly ended_by: 'move' | 'unbind';
  readonly moved_to: { readonly name: string; readonly os: string } | null;
}
export interface StatusResponse {
  readonly key: KeyInfo;
  readonly device: BoundDevice | null;
  readonly organization: NamedEntity;
  readonly workspace: NamedEntity;
  /** Absent from older backends, and when the key is bound to a device. */
  readonly past_binding?: PastBinding | null;
}
export interface WhoamiResponse {
  readonly user: UserInfo;
  readonly organization: NamedEntity;
  readonly workspace: NamedEntity;
  readonly device: BoundDevice | null;
}
export interface DeviceRegistration {
  readonly fingerprint: string;
  readonly name: string;
  readonly os: string;
  readonly os_version: string;
  readonly arch: string;
  /** The device key's public half: the binding will hold it, and every request prove it. */
  readonly public_key?: PublicJwk;
}
export interface BoundDeviceSummary {
  readonly name: string;
  readonly os: string;
  readonly bound_at: string;
  /** e.g. "Debian GNU/Linux 12 (bookworm)": tells apart devices of one name; '' when not given. */
  readonly os_version?: string;
}

/** The JSON does not have the shape of the protocol: the caller says the answer is not the API. */
export class ShapeError extends Error {}

export type Json = Record<string, unknown>;

/**
 * Reads fields of a backend's JSON answer as display-safe text: control and format characters
 * removed, length capped, and the key in use (or any run of its random part) masked.
 */
export class Reader {
  /** `key`: the key in use, masked wherever it shows up (none before a login has a key). */
  constructor(private readonly key?: ApiKey) {}

  clean(value: string, max = MAX_NAME): string {
    return redactKeys(cleanText(value, max), this.key);
  }

  field(record: Json, name: string, path: string): Json {
    const value = record[name];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ShapeError(`${path}${name} is not an object`);
    }
    return value as Json;
  }

  text(record: Json, name: string, path: string): string {
    const value = record[name];
    if (typeof value !== 'string') throw new ShapeError(`${path}${name} is not a string`);
    return this.clean(value);
  }

  optionalText(record: Json, name: string, path: string): string | null {
    const value = record[name];
    if (value === null || value === undefined) return null;
    return this.text(record, name, path);
  }

  /** A string field when it is one, else ''; for error bodies, which are read leniently. */
  loose(record: Json | undefined, name: string, max = MAX_NAME): string {
    const value = record?.[name];
    return typeof value === 'string' ? this.clean(value, max) : '';
  }

  user(r: Json): UserInfo {
    const u = this.field(r, 'user', '');
    return {
      id: this.text(u, 'id', 'user.'),
      email: this.text(u, 'email', 'user.'),
      name: this.optionalText(u, 'name', 'user.') ?? '',
    };
  }

  named(r: Json, name: 'organization' | 'workspace'): NamedEntity {
    const o = this.field(r, name, '');
    return { id: this.text(o, 'id', `${name}.`), name: this.optionalText(o, 'name', `${name}.`) ?? '' };
  }

  keyInfo(r: Json): KeyInfo {
    const k = this.field(r, 'key', '');
    return {
      id: this.text(k, 'id', 'key.'),
      name: this.optionalText(k, 'name', 'key.') ?? '',
      environment: this.text(k, 'environment', 'key.'),
      masked: this.text(k, 'masked', 'key.'),
      created_at: this.optionalText(k, 'created_at', 'key.') ?? '',
      expires_at: this.optionalText(k, 'expires_at', 'key.'),
      type: this.loose(k, 'type'),
    };
  }

  device(r: Json): BoundDevice | null {
    if (r.device === null || r.device === undefined) return null;
    const d = this.field(r, 'device', '');
    const fingerprint = this.text(d, 'fingerprint', 'device.');
    if (!/^[0-9a-f]{64}$/.test(fingerprint))
      throw new ShapeError('device.fingerprint is not 64 hex characters');
    return {
      id: this.text(d, 'id', 'device.'),
      fingerprint,
      name: this.text(d, 'name', 'device.'),
      os: this.text(d, 'os', 'device.'),
      bound_at: this.optionalText(d, 'bound_at', 'device.') ?? '',
      rebound: d.rebound === true,
      ...(typeof d.key_thumbprint === 'string' &&
        /^[A-Za-z0-9_-]{43}$/.test(d.key_thumbprint) && { key_thumbprint: d.key_thumbprint }),
    };
  }

  /** Read leniently: an answer without it (an older backend) still says the binding is gone. */
  pastBinding(r: Json): PastBinding | null {
    const p = r.past_binding;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) return null;
    const record = p as Json;
    const moved = record.moved_to;
    const to =
      typeof moved === 'object' && moved !== null && !Array.isArray(moved)
        ? { name: this.loose(moved as Json, 'name'), os: this.loose(moved as Json, 'os') }
        : null;
    return {
      bound_at: this.loose(record, 'bound_at'),
      ended_at: this.loose(record, 'ended_at'),
      ended_by: record.ended_by === 'move' ? 'move' : 'unbind',
      moved_to: to,
    };
  }

  boundDevice(body: Json | undefined): BoundDeviceSummary | undefined {
    const d = body?.bound_device;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) return undefined;
    const r = d as Json;
    const osVersion = this.loose(r, 'os_version');
    return {
      name: this.loose(r, 'name'),
      os: this.loose(r, 'os'),
      bound_at: this.loose(r, 'bound_at'),
      ...(osVersion && { os_version: osVersion }),
    };
  }
}

export const parsers = {
  login: (read: Reader, r: Json): LoginResponse => {
    const device = read.device(r);
    if (device === null) throw new ShapeError('device is missing');
    return {
      user: read.user(r),
      organization: read.named(r, 'organization'),
      workspace: read.named(r, 'workspace'),
      key: read.keyInfo(r),
      device,
    };
  },
  status: (read: Reader, r: Json): StatusResponse => ({
    key: read.keyInfo(r),
    device: read.device(r),
    organization: read.named(r, 'organization'),
    workspace: read.named(r, 'workspace'),
    past_binding: read.pastBinding(r),
  }),
  whoami: (read: Reader, r: Json): WhoamiResponse => ({
    user: read.user(r),
    organization: read.named(r, 'organization'),
    workspace: read.named(r, 'workspace'),
    device: read.device(r),
  }),
  logout: (_read: Reader, r: Json): { unbound: boolean } => {
    if (typeof r.unbound !== 'boolean') throw new ShapeError('unbound is not a boolean');
    return { unbound: r.unbound };
  },
};

/** RFC 8628 §3.2, as the backend answers POST /api/v1/cli/device/code. */
export interface DeviceCodeAnswer {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly verificationUri: string;
  readonly expiresIn: number;
  readonly interval: number;
}

export function readDeviceCode(read: Reader, r: Json): DeviceCodeAnswer {
  const number = (name: string, min: number, max: number): number => {
    const value = r[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new ShapeError(`${name} is not a number`);
    return Math.min(max, Math.max(min, Math.round(value)));
  };
  const deviceCode = r.device_code;
  if (typeof deviceCode !== 'string' || deviceCode === '' || deviceCode.length > 200) {
    throw new ShapeError('device_code is not a string');
  }
  return {
    deviceCode,
    userCode: read.text(r, 'user_code', ''),
    verificationUri: read.text(r, 'verification_uri', ''),
    // A backend cannot make us wait longer than an hour, or poll faster than every second.
    expiresIn: number('expires_in', 1, 3600),
    interval: number('interval', 1, 60),
  };
}

/** PROTOCOL.md "Moving a key": the backend waits for a person to approve the move (202). */
export interface MoveAnswer {
  readonly id: string;
  readonly userCode: string;
  readonly verificationUriComplete: string;
  readonly expiresIn: number;
  readonly interval: number;
  /** The device the key is bound to now, when the backend says. */
  readonly from: BoundDeviceSummary | null;
}

export function readMove(read: Reader, r: Json): MoveAnswer {
  const move = r.move;
  if (typeof move !== 'object' || move === null || Array.isArray(move))
    throw new ShapeError('move is missing');
  const m = move as Json;
  const number = (name: string, min: number, max: number): number => {
    const value = m[name];
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new ShapeError(`move.${name} is not a number`);
    return Math.min(max, Math.max(min, Math.round(value)));
  };
  const id = m.id;
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(id))
    throw new ShapeError('move.id is not an id');
  return {
    id,
    userCode: read.text(m, 'user_code', 'move.'),
    verificationUriComplete: read.optionalText(m, 'verification_uri_complete', 'move.') ?? '',
    // As for device codes: never wait longer than an hour, or poll faster than every second.
    expiresIn: number('expires_in', 1, 3600),
    interval: number('interval', 1, 60),
    from: read.boundDevice({ bound_device: m.from_device }) ?? null,
  };
}
