// Bound devices as people manage them: list and unbind, by the same visibility rule as keys.
import type { DeviceRow, VisibleDevice } from '../store/queries/devices.js';
import type { Store } from '../store/store.js';
import type { Actor } from './managed-keys.js';

export function devicesFor(store: Store, userId: string): Promise<VisibleDevice[]> {
  return store.read.devices.visibleTo(userId);
}

export type UnbindOutcome =
  | { readonly ok: true; readonly id: string; readonly unboundAt: string }
  | { readonly ok: false; readonly reason: 'not_found' };

/**
 * Frees the key: its next login from any device binds it. (To cut a device off for good,
 * revoke the key instead.) Every server forgets the binding once this resolves.
 */
export function unbindDeviceFor(store: Store, actor: Actor, deviceId: string): Promise<UnbindOutcome> {
  const at = actor.now.toISOString();
  return store.transaction(
    async (tx): Promise<UnbindOutcome> => {
      const device = await tx.devices.byId(deviceId);
      const key = device === undefined ? undefined : await tx.keys.visibleKey(actor.user.id, device.key_id);
      if (device === undefined || key === undefined) return { ok: false, reason: 'not_found' };
      await tx.devices.unbind(device.id, at);
      await tx.audit.record({
        at,
        event: 'unbind',
        key_id: device.key_id,
        fingerprint: device.fingerprint,
        device_name: device.name,
        client_ip: actor.clientIp,
        actor_user_id: actor.user.id,
        detail: { device_id: device.id },
      });
      return { ok: true, id: device.id, unboundAt: at };
    },
    { invalidates: true },
  );
}

export type UnbindKeyOutcome =
  | { readonly status: 'unbound'; readonly device: DeviceRow }
  | { readonly status: 'not_bound' | 'not_found' };

/** `sekuire-server unbind`: the operator frees a key by its id, whoever owns it. */
export function unbindKey(
  store: Store,
  keyId: string,
  now: Date,
  onUnconfirmed?: (servers: readonly string[]) => void,
): Promise<UnbindKeyOutcome> {
  const at = now.toISOString();
  return store.transaction(
    async (tx): Promise<UnbindKeyOutcome> => {
      if (!(await tx.lock('api_keys', keyId))) return { status: 'not_found' };
      const device = await tx.devices.active(keyId);
      if (device === undefined) return { status: 'not_bound' };
      await tx.devices.unbind(device.id, at);
      await tx.audit.record({
        at,
        event: 'unbind',
        key_id: keyId,
        fingerprint: device.fingerprint,
        device_name: device.name,
        detail: { device_id: device.id, via: 'sekuire-server unbind' },
      });
      return { status: 'unbound', device };
    },
    { invalidates: true, ...(onUnconfirmed && { onUnconfirmed }) },
  );
}
