// The device key's store as status, whoami and login report it.
import type { DeviceSigner } from '../core/key-store/types.js';
import type { DeviceView } from './results.js';

export function keyStoreView(
  signer: Pick<DeviceSigner, 'store' | 'agentKey'> | undefined,
): Pick<DeviceView, 'key_store' | 'agent_key'> {
  if (signer === undefined) return {};
  return { key_store: signer.store, ...(signer.agentKey !== '' && { agent_key: signer.agentKey }) };
}
