// Opens the agent, keyring or TPM store a login names; each fails closed, never falls back to a file.
import type { StoredCredentials } from '../credentials.js';
import type { Env } from '../home.js';
import type { KeyStoreName } from './names.js';
import type { DeviceSigner } from './types.js';

export async function openSigner(
  store: Exclude<KeyStoreName, 'file'>,
  home: string,
  env: Env,
  credentials: StoredCredentials,
): Promise<DeviceSigner> {
  switch (store) {
    case 'agent': {
      const { openAgentSigner } = await import('./agent.js');
      return openAgentSigner(env, credentials.agent_key ?? '');
    }
    case 'keyring': {
      const { openKeyringSigner } = await import('./keyring.js');
      return openKeyringSigner(home, env);
    }
    case 'tpm': {
      const { openTpmSigner } = await import('./tpm.js');
      return openTpmSigner(home, env);
    }
  }
}
