// The agent store: an ecdsa-sha2-nistp256 key held by the SSH agent at SSH_AUTH_SOCK signs each proof.
import { jwkThumbprint, type PublicJwk } from '@sekuire/shared/proof-format';
import type { Env } from '../home.js';
import { AgentFailure, type AgentIdentity, agentSign, listIdentities } from './ssh-agent.js';
import { type DeviceSigner, KeyStoreError } from './types.js';

/** Long enough for a touch on a YubiKey or Touch ID for Secretive; an agent that never answers ends here. */
const AGENT_TIMEOUT_MS = 30_000;

const LOST_HINT =
  "Add the key to the agent again ('ssh-add -l' lists what it holds). If the key is gone for good, run 'sekuire login --rebind' (a person approves the move to a new device key)";

export function agentSocket(env: Env): string {
  const socket = env.SSH_AUTH_SOCK;
  if (socket === undefined || socket === '') {
    throw new KeyStoreError(
      'agent_unavailable',
      'SSH_AUTH_SOCK is not set: there is no SSH agent to sign with. Nothing was sent.',
      'Start the agent that holds the device key (Secretive, ssh-tpm-agent, yubikey-agent, ssh-agent) and export SSH_AUTH_SOCK',
    );
  }
  return socket;
}

function failed(failure: unknown, socket: string, what: string): KeyStoreError {
  if (!(failure instanceof AgentFailure)) throw failure;
  return new KeyStoreError(
    failure.kind === 'refused' ? 'agent_refused' : 'agent_unavailable',
    `The SSH agent at ${socket} ${what}: ${failure.message}. Nothing was sent.`,
    failure.kind === 'refused'
      ? LOST_HINT
      : 'Start the agent that holds the device key and check SSH_AUTH_SOCK, then try again',
    { socket },
  );
}

export async function agentIdentities(socket: string): Promise<AgentIdentity[]> {
  try {
    return await listIdentities(socket, AGENT_TIMEOUT_MS);
  } catch (error) {
    throw failed(error, socket, 'did not list its keys');
  }
}

export function p256Jwk(identity: AgentIdentity): PublicJwk | undefined {
  if (identity.p256 === undefined) return undefined;
  return {
    kty: 'EC',
    crv: 'P-256',
    x: identity.p256.x.toString('base64url'),
    y: identity.p256.y.toString('base64url'),
  };
}

export function agentSigner(socket: string, identity: AgentIdentity): DeviceSigner {
  const publicJwk = p256Jwk(identity);
  if (publicJwk === undefined) {
    throw new KeyStoreError(
      'agent_key_unusable',
      `The agent key ${identity.fingerprint} is not an ecdsa-sha2-nistp256 key.`,
      'Pick a P-256 key with --agent-key (ssh-add -l shows them as ECDSA 256)',
    );
  }
  return {
    store: 'agent',
    publicJwk,
    thumbprint: jwkThumbprint(publicJwk),
    where: `the SSH agent key ${identity.fingerprint}`,
    agentKey: identity.fingerprint,
    warnings: [],
    sign: async (data) => {
      try {
        return await agentSign(socket, identity.blob, data, AGENT_TIMEOUT_MS);
      } catch (error) {
        throw failed(error, socket, `did not sign with the device key ${identity.fingerprint}`);
      }
    },
  };
}

/** The stored login's agent key: only the key with that fingerprint ever signs. */
export async function openAgentSigner(env: Env, fingerprint: string): Promise<DeviceSigner> {
  const socket = agentSocket(env);
  const identity = (await agentIdentities(socket)).find((candidate) => candidate.fingerprint === fingerprint);
  if (identity === undefined) {
    throw new KeyStoreError(
      'agent_key_missing',
      `The SSH agent at ${socket} does not hold this device's key (${fingerprint}); the request was refused here and nothing was sent.`,
      LOST_HINT,
      { socket, agent_key: fingerprint },
    );
  }
  return agentSigner(socket, identity);
}
