// The keyring store (placeholder until it is written).
import type { DeviceSigner } from './types.js';
import { KeyStoreError } from './types.js';

function notYet(): never {
  throw new KeyStoreError(
    'keyring_unavailable',
    'The keyring store is not available yet.',
    "Use '--key-store file' or '--key-store agent'",
  );
}
export async function openKeyringSigner(_home: string): Promise<DeviceSigner> {
  return notYet();
}
export async function createKeyringSigner(_home: string): Promise<DeviceSigner> {
  return notYet();
}
