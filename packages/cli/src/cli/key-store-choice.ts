// Which store login keeps the device key in: --key-store, config key_store, the current login's, else file.
import type { LoadedCredentials } from '../core/credentials.js';
import { UsageError } from '../core/errors.js';
import { parseKeyStoreChoice } from '../core/key-store/choice.js';
import type { KeyStoreChoice } from '../core/key-store/names.js';
import type { DeviceSigner } from '../core/key-store/types.js';
import { Settings } from '../core/settings.js';
import type { LoginOptions } from './commands/login/start.js';
import { type Context, canPrompt } from './context.js';
import { note } from './notes.js';

type StoreOptions = Pick<LoginOptions, 'keyStore' | 'agentKey'>;

/** Checked before any prompt: a typo in --key-store or --agent-key is a usage error at once. */
export function keyStoreChoice(
  ctx: Context,
  options: StoreOptions,
  previous: LoadedCredentials | undefined,
): KeyStoreChoice {
  const choice =
    options.keyStore !== undefined
      ? parseKeyStoreChoice(options.keyStore, '--key-store')
      : ((Settings.load(ctx.env, ctx.home).get('key_store')?.value as KeyStoreChoice | undefined) ??
        previous?.credentials.key_store ??
        'file');
  if (options.agentKey !== undefined && choice !== 'agent' && choice !== 'auto') {
    throw new UsageError(
      `--agent-key applies to --key-store agent (or auto); the key store is ${choice}.`,
      'usage',
    );
  }
  return choice;
}

/**
 * What can be known about the chosen store before the key is asked for: no agent socket, no TPM,
 * no keyring binding. Found later, it would be found after a paste or an approval.
 */
export async function precheckStore(ctx: Context, choice: KeyStoreChoice): Promise<void> {
  switch (choice) {
    case 'agent': {
      const { agentSocket } = await import('../core/key-store/agent.js');
      agentSocket(ctx.env);
      return;
    }
    case 'tpm': {
      const { tpmTcti } = await import('../core/key-store/tpm.js');
      tpmTcti(ctx.env);
      return;
    }
    case 'keyring': {
      const { keyringInstalled } = await import('../core/key-store/keyring.js');
      keyringInstalled();
      return;
    }
    default:
      return;
  }
}

/** The device key login binds, in the chosen store of `home`: the profile's directory (one key per profile). */
export async function chooseSigner(
  ctx: Context,
  home: string,
  options: StoreOptions,
  previous: LoadedCredentials | undefined,
): Promise<DeviceSigner> {
  const choice = keyStoreChoice(ctx, options, previous);
  const { createSigner, parseAgentKey } = await import('../core/key-store/create.js');
  const fromFlag = options.agentKey === undefined ? undefined : parseAgentKey(options.agentKey);
  const agentKey = fromFlag ?? previous?.credentials.agent_key;
  const chosen = await createSigner({
    home,
    env: ctx.env,
    choice,
    ...(agentKey !== undefined && { agentKey }),
    agentKeyFromFlag: fromFlag !== undefined,
    ...(canPrompt(ctx) && {
      pickAgentKey: async (keys) => {
        const { pickAgentKey } = await import('./prompt.js');
        return pickAgentKey(ctx, keys);
      },
    }),
  });
  if (chosen.note !== undefined) note(ctx, chosen.note);
  return chosen.signer;
}
