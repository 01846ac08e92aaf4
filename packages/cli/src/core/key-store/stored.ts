// The signer a stored login names: the file store read in process, any other store loaded only then.
import type { LoadedCredentials } from '../credentials.js';
import type { Env } from '../home.js';
import { readFileSigner } from './file.js';
import type { DeviceSigner } from './types.js';

/**
 * The device key of a stored login. The file store (the default) is read here, as before; the
 * agent, keyring and TPM code is imported only for a login that names one of them, so that
 * `status` with the file store parses none of it.
 */
export async function storedSigner(
  home: string,
  env: Env,
  stored: LoadedCredentials,
): Promise<DeviceSigner | undefined> {
  const { key_store: store = 'file' } = stored.credentials;
  if (store === 'file') return readFileSigner(home);
  const { openSigner } = await import('./open.js');
  return openSigner(store, home, env, stored.credentials);
}
