// What every device-key store gives the proof: the public half, and a signature over the signature base.
import type { PublicJwk } from '@sekuire/shared/proof-format';
import { SekuireError } from '../errors.js';
import type { KeyStoreName } from './names.js';

export interface DeviceSigner {
  readonly store: KeyStoreName;
  readonly publicJwk: PublicJwk;
  /** RFC 7638 thumbprint: the keyid of every proof, and what auth.json records. */
  readonly thumbprint: string;
  /** Where the private half is, for messages: a path, an agent key's fingerprint, a keyring entry. */
  readonly where: string;
  /** `ssh-add -l`'s SHA256 fingerprint of the agent key; '' for the other stores. */
  readonly agentKey: string;
  readonly warnings: readonly string[];
  /** ECDSA P-256 with SHA-256 over `data`: the 64-byte r||s form (IEEE P1363). */
  sign(data: Buffer): Buffer | Promise<Buffer>;
}

/** A store that is missing, locked or unreachable: exit 15 with what to do; never a fallback. */
export class KeyStoreError extends SekuireError {
  override readonly name = 'KeyStoreError';
  constructor(code: string, message: string, hint: string, details: Readonly<Record<string, unknown>> = {}) {
    super(code, message, 'localFiles', { hint, details });
  }
}

/** DER ECDSA-Sig-Value or SSH's (mpint r, mpint s) integers, as 32 bytes each. */
export function fixedWidth(integer: Buffer): Buffer {
  let start = 0;
  while (start < integer.length - 1 && integer[start] === 0) start++;
  const trimmed = integer.subarray(start);
  if (trimmed.length > 32) throw new Error('ECDSA integer longer than 32 bytes');
  return Buffer.concat([Buffer.alloc(32 - trimmed.length), trimmed]);
}
