// login --key-store on a device already logged in: the binding moves to the new key, signed by the old one.
import type { ApiKey } from '@sekuire/shared/key';
import { rotationStatement } from '@sekuire/shared/rotation';
import { parseBackendUrl, urlText } from '../core/backend-url.js';
import type { LoadedCredentials } from '../core/credentials.js';
import type { DeviceIdentity } from '../core/device.js';
import type { NetworkPolicy } from '../core/http/policy.js';
import { storedSigner } from '../core/key-store/stored.js';
import { type DeviceSigner, KeyStoreError } from '../core/key-store/types.js';
import { loginCommandFor } from '../core/profiles.js';
import type { Context } from './context.js';
import { note } from './notes.js';

export interface Rotation {
  /** The profile's directory: where its stored login's key store is. */
  readonly home: string;
  /** The profile's name, for the command a hint names. */
  readonly profile: string;
  readonly previous: LoadedCredentials | undefined;
  readonly key: ApiKey;
  readonly identity: DeviceIdentity;
  readonly signer: DeviceSigner;
  readonly backend: URL;
  readonly policy: NetworkPolicy;
}

function lost(previous: LoadedCredentials, why: string, next: DeviceSigner, profile: string): KeyStoreError {
  const store = previous.credentials.key_store ?? 'file';
  return new KeyStoreError(
    'previous_device_key_unavailable',
    `This device's current key (the ${store} store) cannot sign the change to the ${next.store} store: ${why}`,
    `If that key is gone for good, run '${loginCommandFor(profile)} --key-store ${next.store} --rebind': a person approves the move to the new key, as for a new device`,
    { key_store: store },
  );
}

/**
 * The same key, on the same device and backend, bound with another device key than the one the
 * chosen store holds: the binding is moved to the new key at once, as the old key signs the
 * request. Anything else (first login, another key or backend, --rebind) is login's usual path.
 */
export async function rotateIfStoreChanged(ctx: Context, rotation: Rotation): Promise<void> {
  const { previous, key, identity, signer } = rotation;
  if (previous === undefined) return;
  const c = previous.credentials;
  if (c.api_key !== key.value || c.device_fingerprint !== identity.fingerprint) return;
  if (c.device_key === '' || c.device_key === signer.thumbprint) return;
  const backend = parseBackendUrl(c.backend, previous.path);
  if (urlText(backend) !== urlText(rotation.backend)) return;
  let old: DeviceSigner | undefined;
  try {
    old = await storedSigner(rotation.home, ctx.env, previous);
  } catch (error) {
    if (error instanceof KeyStoreError) throw lost(previous, error.message, signer, rotation.profile);
    throw error;
  }
  if (old === undefined || old.thumbprint !== c.device_key) {
    throw lost(
      previous,
      old === undefined ? 'it is not there.' : `${old.where} is another key.`,
      signer,
      rotation.profile,
    );
  }
  const possession = await signer.sign(Buffer.from(rotationStatement(old.thumbprint, signer.thumbprint)));
  const client = await ctx.connect({
    backend,
    backendSource: `the login stored in ${previous.path}`,
    key,
    proof: old,
    fingerprint: identity.fingerprint,
    policy: rotation.policy,
  });
  await client.rotateDeviceKey(signer.publicJwk, possession.toString('base64url'));
  note(
    ctx,
    `This device's key moved from the ${old.store} store to the ${signer.store} store (${signer.where}); the backend refuses the old key from now on.`,
  );
}
