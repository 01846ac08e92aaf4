// Login's side of the stores: the device key in the store chosen (made there when it has none), or auto's pick.

import { UsageError } from '../errors.js';
import type { Env } from '../home.js';
import { agentIdentities, agentSigner, agentSocket } from './agent.js';
import { ensureFileSigner } from './file.js';
import type { KeyStoreChoice } from './names.js';
import type { AgentIdentity } from './ssh-agent.js';
import { type DeviceSigner, KeyStoreError } from './types.js';

export interface CreateSignerOptions {
  readonly home: string;
  readonly env: Env;
  readonly choice: KeyStoreChoice;
  /** --agent-key, or the agent key the previous login used. */
  readonly agentKey?: string;
  readonly agentKeyFromFlag: boolean;
  /** Asks which of several agent keys, on a terminal; undefined without one. */
  readonly pickAgentKey?: (keys: readonly AgentIdentity[]) => Promise<AgentIdentity>;
}

export interface Chosen {
  readonly signer: DeviceSigner;
  /** With auto: what was chosen and why, for stderr. */
  readonly note?: string;
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function parseAgentKey(text: string): string {
  const value = text.trim();
  if (!FINGERPRINT.test(value)) {
    throw new UsageError(
      `--agent-key takes an agent key's SHA256 fingerprint as 'ssh-add -l' prints it (SHA256: and 43 characters), got "${text}".`,
      'invalid_agent_key',
    );
  }
  return value;
}

function describe(keys: readonly AgentIdentity[]): string {
  return keys.map((key) => `  ${key.fingerprint}${key.comment ? ` ${key.comment}` : ''}`).join('\n');
}

async function chooseAgentKey(options: CreateSignerOptions, socket: string, keys: AgentIdentity[]) {
  const p256 = keys.filter((key) => key.p256 !== undefined);
  if (options.agentKey !== undefined) {
    const picked = p256.find((key) => key.fingerprint === options.agentKey);
    if (picked !== undefined) return picked;
    if (options.agentKeyFromFlag) {
      throw new KeyStoreError(
        'agent_key_missing',
        `The SSH agent at ${socket} holds no ecdsa-sha2-nistp256 key ${options.agentKey}.${p256.length > 0 ? ` Its P-256 keys:\n${describe(p256)}` : ''}`,
        "'ssh-add -l' lists the keys the agent holds; give one of its ECDSA 256 keys to --agent-key",
        { socket, agent_key: options.agentKey },
      );
    }
  }
  if (p256.length === 0) {
    throw new KeyStoreError(
      'agent_no_p256_key',
      `The SSH agent at ${socket} holds no ecdsa-sha2-nistp256 key to be this device's key.`,
      "Add one (docs/CLI.md, 'Device-key stores': Secretive, ssh-tpm-agent, a YubiKey), or 'ssh-keygen -t ecdsa -b 256' and 'ssh-add' for a key on disk",
      { socket },
    );
  }
  if (p256.length === 1) return p256[0] as AgentIdentity;
  if (options.pickAgentKey === undefined) {
    throw new UsageError(
      `The SSH agent at ${socket} holds ${p256.length} ecdsa-sha2-nistp256 keys; name the one this device signs with:\n${describe(p256)}`,
      'agent_key_ambiguous',
      {
        hint: `Run 'sekuire login --key-store agent --agent-key ${p256[0]?.fingerprint}' (or another of them)`,
      },
    );
  }
  return options.pickAgentKey(p256);
}

async function agentChoice(options: CreateSignerOptions): Promise<DeviceSigner> {
  const socket = agentSocket(options.env);
  const keys = await agentIdentities(socket);
  return agentSigner(socket, await chooseAgentKey(options, socket, keys));
}

/** auto: an agent with a P-256 key, then the keyring, then the file; says which and why. */
async function autoChoice(options: CreateSignerOptions): Promise<Chosen> {
  const skipped: string[] = [];
  if (options.env.SSH_AUTH_SOCK) {
    try {
      const keys = await agentIdentities(agentSocket(options.env));
      if (keys.some((key) => key.p256 !== undefined) || options.agentKey !== undefined) {
        const signer = await agentChoice(options);
        return { signer, note: `Key store: auto chose the SSH agent (${signer.where}).` };
      }
      skipped.push('the SSH agent holds no P-256 key');
    } catch (error) {
      if (!(error instanceof KeyStoreError)) throw error;
      skipped.push('the SSH agent did not answer');
    }
  } else {
    skipped.push('no SSH agent (SSH_AUTH_SOCK is not set)');
  }
  try {
    const { createKeyringSigner } = await import('./keyring.js');
    const signer = await createKeyringSigner(options.home, options.env);
    return { signer, note: `Key store: auto chose the OS keyring (${skipped.join('; ')}).` };
  } catch (error) {
    if (!(error instanceof KeyStoreError)) throw error;
    skipped.push(`no usable keyring (${error.code})`);
  }
  const signer = ensureFileSigner(options.home);
  return { signer, note: `Key store: auto chose the file ${signer.where} (${skipped.join('; ')}).` };
}

export async function createSigner(options: CreateSignerOptions): Promise<Chosen> {
  switch (options.choice) {
    case 'file':
      return { signer: ensureFileSigner(options.home) };
    case 'agent':
      return { signer: await agentChoice(options) };
    case 'keyring': {
      const { createKeyringSigner } = await import('./keyring.js');
      return { signer: await createKeyringSigner(options.home, options.env) };
    }
    case 'tpm': {
      const { createTpmSigner } = await import('./tpm.js');
      return { signer: await createTpmSigner(options.home, options.env) };
    }
    case 'auto':
      return autoChoice(options);
  }
}
