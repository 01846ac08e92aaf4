// Binding a key to a device: bind, refresh, move, unbind, each under the write lock and audited.
import type { KeyRecord } from './accounts.js';
import type { DeviceFacts, DeviceRow } from './devices.js';
import { newId } from './ids.js';
import { deviceMismatch } from './responses.js';
import type { Store } from './store.js';

/** status and whoami record last_seen_at at most this often, so reads do not each write. */
export const LAST_SEEN_RESOLUTION_MS = 60_000;

export interface Caller {
  readonly record: KeyRecord;
  /** The key's active binding when the request began (login and logout re-read it under the lock). */
  readonly device: DeviceRow | undefined;
  readonly clientIp: string;
  readonly now: Date;
}

export interface LoginOutcome {
  readonly device: DeviceRow;
  readonly rebound: boolean;
}

/** Binds an unbound key, refreshes the same device, or moves the binding when rebind is set. */
export function login(store: Store, caller: Caller, facts: DeviceFacts, rebind: boolean): LoginOutcome {
  const at = caller.now.toISOString();
  const keyId = caller.record.key.id;
  const audit = (event: 'bind' | 'refresh' | 'move', device: DeviceRow, detail: Record<string, unknown>) =>
    store.audit.record({
      at,
      event,
      key_id: keyId,
      fingerprint: device.fingerprint,
      device_name: device.name,
      client_ip: caller.clientIp,
      detail,
    });
  const bindNew = (): DeviceRow => {
    const device: DeviceRow = { ...facts, id: newId('dev'), key_id: keyId, bound_at: at, last_seen_at: at };
    store.devices.insert(device);
    return device;
  };

  return store.inTransaction((): LoginOutcome => {
    const active = store.devices.active(keyId);
    if (active === undefined) {
      const device = bindNew();
      audit('bind', device, {
        device_id: device.id,
        os: facts.os,
        os_version: facts.os_version,
        arch: facts.arch,
      });
      return { device, rebound: false };
    }
    if (active.fingerprint === facts.fingerprint) {
      store.devices.refresh(active.id, facts, at);
      const device: DeviceRow = { ...active, ...facts, last_seen_at: at };
      audit('refresh', device, { device_id: device.id });
      return { device, rebound: false };
    }
    if (!rebind) throw deviceMismatch(active);
    store.devices.unbind(active.id, at);
    const device = bindNew();
    audit('move', device, {
      from: active.fingerprint,
      to: device.fingerprint,
      from_device: active.name,
      from_device_id: active.id,
      device_id: device.id,
    });
    return { device, rebound: true };
  });
}

/**
 * The key's device as seen from this fingerprint: undefined when the key is bound to no
 * device (accepted from anywhere), a 409 when it is bound elsewhere.
 */
export function currentDevice(store: Store, caller: Caller, fingerprint: string): DeviceRow | undefined {
  const active = caller.device;
  if (active === undefined) return undefined;
  if (active.fingerprint !== fingerprint) throw deviceMismatch(active);
  if (caller.now.getTime() - Date.parse(active.last_seen_at) < LAST_SEEN_RESOLUTION_MS) return active;
  const at = caller.now.toISOString();
  store.inTransaction(() => store.devices.touch(active.id, at));
  return { ...active, last_seen_at: at };
}

/** Removes this device's binding; false when there was none. The key stays valid. */
export function logout(store: Store, caller: Caller, fingerprint: string): boolean {
  const at = caller.now.toISOString();
  return store.inTransaction(() => {
    const active = store.devices.active(caller.record.key.id);
    if (active === undefined) return false;
    if (active.fingerprint !== fingerprint) throw deviceMismatch(active);
    store.devices.unbind(active.id, at);
    store.audit.record({
      at,
      event: 'unbind',
      key_id: caller.record.key.id,
      fingerprint: active.fingerprint,
      device_name: active.name,
      client_ip: caller.clientIp,
      detail: { device_id: active.id },
    });
    return true;
  });
}
