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

const LOGIN = 'sekuire login';

/**
 * A store's refusal, its hint's login command made the one of the profile in use: the stores
 * know a directory, not the profile it belongs to ('sekuire login --rebind' in `default` is
 * 'sekuire login --profile work --rebind' in `work`).
 */
function forProfile(error: unknown, loginCommand: string): unknown {
  if (loginCommand === LOGIN || !(error instanceof KeyStoreError) || error.hint === undefined) return error;
  const hint = error.hint
    .replaceAll(`'${LOGIN} `, `'${loginCommand} `)
    .replaceAll(`'${LOGIN}'`, `'${loginCommand}'`);
  return hint === error.hint ? error : new KeyStoreError(error.code, error.message, hint, error.details);
}

function adopted(signer: DeviceSigner, loginCommand: string): DeviceSigner {
  const refused = (error: unknown) => forProfile(adopt(error), loginCommand);
  return {
    ...signer,
    sign: (data) => {
      try {
        const signature = signer.sign(data);
        return signature instanceof Promise
          ? signature.catch((error: unknown) => {
              throw refused(error);
            })
          : signature;
      } catch (error) {
        throw refused(error);
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
  /** The command that logs in to the profile `home` is the directory of: its hints name it. */
  loginCommand = LOGIN,
): Promise<DeviceSigner | undefined> {
  const { key_store: store = 'file' } = stored.credentials;
  if (store === 'file') return readFileSigner(home);
  const { openSigner } = await import('./open.js');
  try {
    return adopted(await openSigner(store, home, env, stored.credentials), loginCommand);
  } catch (error) {
    throw forProfile(adopt(error), loginCommand);
  }
}
