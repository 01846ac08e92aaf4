// The TPM store (placeholder until it is written).
import type { Env } from '../home.js';
import type { DeviceSigner } from './types.js';
import { KeyStoreError } from './types.js';

function notYet(): never {
  throw new KeyStoreError(
    'tpm_unavailable',
    'The TPM store is not available yet.',
    "Use '--key-store file' or '--key-store agent'",
  );
}
export async function openTpmSigner(_home: string, _env: Env): Promise<DeviceSigner> {
  return notYet();
}
export async function createTpmSigner(_home: string, _env: Env): Promise<DeviceSigner> {
  return notYet();
}
