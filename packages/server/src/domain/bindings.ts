// Binding a key to a device: bind, refresh, move, unbind; each under a lock on the key, audited.

import type { KeyState } from '../store/key-cache.js';
import type { DeviceFacts, DeviceRow } from '../store/queries/devices.js';
import type { KeyRecord } from '../store/queries/keys.js';
import type { Store } from '../store/store.js';
import { newId } from './ids.js';
import { USE_RESOLUTION_MS } from './key-check.js';
import { keyStatus } from './keys.js';
import { type MoveRow, requestMove } from './moves.js';
import type { ExpectedKey } from './proofs.js';

export interface Caller {
  readonly state: KeyState;
  readonly clientIp: string;
  readonly now: Date;
}

/**
 * Refused because the key is bound elsewhere: says to which device (never its fingerprint).
 * `sameMachine`: the fingerprint matches but the device key does not (device-key.json was
 * replaced, or auth.json was copied to another home on the same machine).
 */
export interface Mismatch {
  readonly ok: false;
  readonly reason: 'device_mismatch';
  readonly bound: DeviceRow;
  readonly sameMachine?: boolean;
}

/** A login without a device key, where one is needed: any new binding, or a binding that holds one. */
export interface DeviceKeyRequired {
  readonly ok: false;
  readonly reason: 'device_key_required';
}

/** The move to this device waits for a person's approval. */
export interface MoveRequested {
  readonly ok: false;
  readonly reason: 'move_requested';
  readonly move: MoveRow;
  /** The device the key is bound to, which would lose it. */
  readonly bound: DeviceRow;
}

export interface LoginRequest {
  readonly facts: DeviceFacts;
  /** The device key the request was signed with (verified by the caller); undefined: none sent. */
  readonly deviceKey: ExpectedKey | undefined;
  readonly rebind: boolean;
  /** `start --allow-self-rebind`: the key alone moves its binding, as before device proof. */
  readonly selfRebind: boolean;
}

/** The key changed between the check and the write (revoked or expired meanwhile). */
export interface NoLongerValid {
  readonly ok: false;
  readonly reason: 'revoked' | 'expired';
}

/** Server keys never bind: they are meant for SEKUIRE_API_KEY in a service, not a login. */
export interface ServerKey {
  readonly ok: false;
  readonly reason: 'server_key';
}

export type LoginOutcome =
  | { readonly ok: true; readonly record: KeyRecord; readonly device: DeviceRow; readonly rebound: boolean }
  | Mismatch
  | NoLongerValid
  | ServerKey
  | DeviceKeyRequired
  | MoveRequested;

/**
 * Binds an unbound key, refreshes the same device (giving a binding made before device proof
 * its device key), or, for another device, refuses or requests a move (`rebind`). The key's row
 * is locked and read again first: a revocation committed while this request's body was arriving
 * wins, and two logins racing on one key decide one after the other.
 */
export function login(store: Store, caller: Caller, request: LoginRequest): Promise<LoginOutcome> {
  const { facts, deviceKey } = request;
  const at = caller.now.toISOString();
  const record = caller.state.record;
  const keyId = record.key.id;
  if (record.key.type === 'server') return Promise.resolve({ ok: false, reason: 'server_key' });
  return store.transaction(
    async (tx): Promise<LoginOutcome> => {
      await tx.lock('api_keys', keyId);
      const key = await tx.keys.byId(keyId);
      const status = key === undefined ? 'revoked' : keyStatus(key, caller.now);
      if (status !== 'active') return { ok: false, reason: status };
      const audit = (
        event: 'bind' | 'refresh' | 'move' | 'device_key_added',
        device: DeviceRow,
        detail: Record<string, unknown>,
      ) =>
        tx.audit.record({
          at,
          event,
          key_id: keyId,
          fingerprint: device.fingerprint,
          device_name: device.name,
          client_ip: caller.clientIp,
          detail,
        });
      const bindNew = async (): Promise<DeviceRow> => {
        const device: DeviceRow = {
          ...facts,
          id: newId('dev'),
          key_id: keyId,
          bound_at: at,
          last_seen_at: at,
          last_ip: caller.clientIp,
          public_key: deviceKey?.publicKey ?? null,
          key_thumbprint: deviceKey?.thumbprint ?? null,
        };
        await tx.devices.insert(device);
        return device;
      };
      const fresh = { ...record, key: key ?? record.key };

      const active = await tx.devices.active(keyId);
      if (active === undefined) {
        // Every binding made from now on holds a device key: a key bound without one could be
        // used by anyone who has it and the fingerprint.
        if (deviceKey === undefined) return { ok: false, reason: 'device_key_required' };
        const device = await bindNew();
        await audit('bind', device, {
          device_id: device.id,
          os: facts.os,
          os_version: facts.os_version,
          arch: facts.arch,
        });
        return { ok: true, record: fresh, device, rebound: false };
      }
      const sameMachine = active.fingerprint === facts.fingerprint;
      if (sameMachine && active.key_thumbprint === null && deviceKey !== undefined) {
        // A binding made before device proof: this login from its device gives it the key.
        await tx.devices.refresh(active.id, facts, at, caller.clientIp);
        await tx.devices.setDeviceKey(active.id, deviceKey.publicKey, deviceKey.thumbprint);
        const device: DeviceRow = {
          ...active,
          ...facts,
          last_seen_at: at,
          last_ip: caller.clientIp,
          public_key: deviceKey.publicKey,
          key_thumbprint: deviceKey.thumbprint,
        };
        await audit('device_key_added', device, { device_id: device.id });
        return { ok: true, record: fresh, device, rebound: false };
      }
      if (sameMachine && active.key_thumbprint === (deviceKey?.thumbprint ?? null)) {
        // The same device (or, with no key on either side, an older CLI on an older binding).
        await tx.devices.refresh(active.id, facts, at, caller.clientIp);
        const device: DeviceRow = { ...active, ...facts, last_seen_at: at, last_ip: caller.clientIp };
        await audit('refresh', device, { device_id: device.id });
        return { ok: true, record: fresh, device, rebound: false };
      }
      if (deviceKey === undefined) return { ok: false, reason: 'device_key_required' };
      if (!request.rebind) return { ok: false, reason: 'device_mismatch', bound: active, sameMachine };
      if (!request.selfRebind) {
        const move = await requestMove(tx, {
          keyId,
          from: active,
          facts,
          deviceKey,
          clientIp: caller.clientIp,
          now: caller.now,
        });
        return { ok: false, reason: 'move_requested', move, bound: active };
      }
      await tx.devices.unbind(active.id, at);
      const device = await bindNew();
      await audit('move', device, {
        from: active.fingerprint,
        to: device.fingerprint,
        from_device: active.name,
        from_device_id: active.id,
        device_id: device.id,
        approved_by: 'self-rebind',
      });
      return { ok: true, record: fresh, device, rebound: true };
    },
    { invalidates: true },
  );
}

export type DeviceCheck = { readonly ok: true; readonly device: DeviceRow | undefined } | Mismatch;

/**
 * The key's device as seen from this fingerprint: undefined when the key is bound to no device
 * (accepted from anywhere), a mismatch when it is bound elsewhere. Records "last seen" at most
 * once a minute.
 */
export async function currentDevice(store: Store, caller: Caller, fingerprint: string): Promise<DeviceCheck> {
  const active = caller.state.device;
  if (active === undefined) return { ok: true, device: undefined };
  if (active.fingerprint !== fingerprint) return { ok: false, reason: 'device_mismatch', bound: active };
  if (caller.now.getTime() - Date.parse(active.last_seen_at) < USE_RESOLUTION_MS)
    return { ok: true, device: active };
  const at = caller.now.toISOString();
  const ip = caller.clientIp;
  await store.read.devices.touch(active.id, at, ip);
  store.updateCached(caller.state.record.digest, (current) =>
    current.device?.id === active.id
      ? { ...current, device: { ...current.device, last_seen_at: at, last_ip: ip } }
      : current,
  );
  return { ok: true, device: { ...active, last_seen_at: at, last_ip: ip } };
}

export type LogoutOutcome = { readonly ok: true; readonly unbound: boolean } | Mismatch;

/** Removes this device's binding; unbound false when there was none. The key stays valid. */
export function logout(store: Store, caller: Caller, fingerprint: string): Promise<LogoutOutcome> {
  const at = caller.now.toISOString();
  const keyId = caller.state.record.key.id;
  return store.transaction(
    async (tx): Promise<LogoutOutcome> => {
      await tx.lock('api_keys', keyId);
      const active = await tx.devices.active(keyId);
      if (active === undefined) return { ok: true, unbound: false };
      if (active.fingerprint !== fingerprint) return { ok: false, reason: 'device_mismatch', bound: active };
      await tx.devices.unbind(active.id, at);
      await tx.audit.record({
        at,
        event: 'unbind',
        key_id: keyId,
        fingerprint: active.fingerprint,
        device_name: active.name,
        client_ip: caller.clientIp,
        detail: { device_id: active.id },
      });
      return { ok: true, unbound: true };
    },
    { invalidates: true },
  );
}
