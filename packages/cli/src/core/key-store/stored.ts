// The signer a stored login names: the file store read in process, any other store loaded only then.
import type { LoadedCredentials } from '../credentials.js';
import { SekuireError } from '../errors.js';
import type { Env } from '../home.js';
import { readFileSigner } from './file.js';
import { type DeviceSigner, KeyStoreError } from './types.js';

/**
 * An error of the agent, keyring or tpm code: in the package that code is dist/key-store.cjs,
 * a bundle with classes of its own, so its errors are rebuilt here from their fields as this
 * bundle's classes (the one catch and its exit codes know only these).
 */
function adopt(error: unknown): unknown {
  if (error instanceof SekuireError || typeof error !== 'object' || error === null) return error;
  const e = error as Partial<SekuireError>;
  if (typeof e.code !== 'string' || typeof e.message !== 'string' || typeof e.exit !== 'string') return error;
  if (e.name === 'KeyStoreError') return new KeyStoreError(e.code, e.message, e.hint ?? '', e.details ?? {});
  return new SekuireError(e.code, e.message, e.exit, {
    ...(e.hint !== undefined && { hint: e.hint }),
    ...(e.details !== undefined && { details: e.details }),
  });
}

function adopted(signer: DeviceSigner): DeviceSigner {
  return {
    ...signer,
    sign: (data) => {
      try {
        const signature = signer.sign(data);
        return signature instanceof Promise
          ? signature.catch((error: unknown) => {
              throw adopt(error);
            })
          : signature;
      } catch (error) {
        throw adopt(error);
      }
    },
  };
}

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
  try {
    return adopted(await openSigner(store, home, env, stored.credentials));
  } catch (error) {
    throw adopt(error);
  }
}
