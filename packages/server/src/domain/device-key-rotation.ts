// A binding moved to a new device key by its device: asked with a proof from the key it holds (PROTOCOL.md).
import { type JsonWebKey, verify } from 'node:crypto';
import { rotationStatement } from '@sekuire/shared/rotation';
import type { DeviceRow } from '../store/queries/devices.js';
import type { Store } from '../store/store.js';
import type { Caller, Mismatch } from './bindings.js';
import { keyStatus } from './keys.js';
import type { ExpectedKey } from './proofs.js';

export type RotationOutcome =
  | { readonly ok: true; readonly device: DeviceRow }
  | Mismatch
  | { readonly ok: false; readonly reason: 'not_bound' | 'key_changed' | 'revoked' | 'expired' }
  | { readonly ok: false; readonly reason: 'no_possession' };

/** The new key's signature (r||s, base64url) over both thumbprints: it shows the device holds the new key too. */
export function holdsNewKey(from: ExpectedKey, to: ExpectedKey, possession: string): boolean {
  const signature = Buffer.from(possession, 'base64url');
  if (signature.length !== 64) return false;
  try {
    return verify(
      'sha256',
      Buffer.from(rotationStatement(from.thumbprint, to.thumbprint)),
      { key: JSON.parse(to.publicKey) as JsonWebKey, format: 'jwk', dsaEncoding: 'ieee-p1363' },
      signature,
    );
  } catch {
    return false;
  }
}

/**
 * `from`: the key whose proof the request carried, checked at the edge. Under the key's lock the
 * binding is read again: a binding moved or rotated meanwhile is not rotated on a stale proof.
 */
export function rotateDeviceKey(
  store: Store,
  caller: Caller,
  fingerprint: string,
  from: ExpectedKey,
  to: ExpectedKey,
  possession: string,
): Promise<RotationOutcome> {
  const at = caller.now.toISOString();
  const keyId = caller.state.record.key.id;
  if (!holdsNewKey(from, to, possession)) return Promise.resolve({ ok: false, reason: 'no_possession' });
  return store.transaction(
    async (tx): Promise<RotationOutcome> => {
      await tx.lock('api_keys', keyId);
      const key = await tx.keys.byId(keyId);
      const status = key === undefined ? 'revoked' : keyStatus(key, caller.now);
      if (status !== 'active') return { ok: false, reason: status };
      const active = await tx.devices.active(keyId);
      if (active === undefined) return { ok: false, reason: 'not_bound' };
      if (active.fingerprint !== fingerprint) return { ok: false, reason: 'device_mismatch', bound: active };
      if (active.key_thumbprint !== from.thumbprint) return { ok: false, reason: 'key_changed' };
      await tx.devices.setDeviceKey(active.id, to.publicKey, to.thumbprint);
      await tx.audit.record({
        at,
        event: 'device_key_rotated',
        key_id: keyId,
        fingerprint: active.fingerprint,
        device_name: active.name,
        client_ip: caller.clientIp,
        detail: { device_id: active.id, from: from.thumbprint, to: to.thumbprint },
      });
      return { ok: true, device: { ...active, public_key: to.publicKey, key_thumbprint: to.thumbprint } };
    },
    { invalidates: true },
  );
}
