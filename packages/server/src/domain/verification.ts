// Verifying a request for another service (POST /api/v1/verify): its key, its device proof, its permissions.
import { authorityOf } from '@sekuire/shared/proof-format';
import { StoreError } from '../store/errors.js';
import type { KeyState } from '../store/key-cache.js';
import type { DeviceRow } from '../store/queries/devices.js';
import type { Store } from '../store/store.js';
import type { Secrets } from './digest.js';
import { checkKey, recordKeyUse } from './key-check.js';
import { missingPermissions } from './permissions.js';
import type { Audience, ProofRefusal, ProofVerifier } from './proofs.js';

/** The request a service received, as it describes it. */
export interface ServiceRequest {
  readonly method: string;
  /** The URL the client sent the request to (the service's own origin, path and query). */
  readonly url: URL;
  /** Header names in lower case. */
  readonly headers: ReadonlyMap<string, string>;
  readonly requiredPermissions: readonly string[];
}

export type VerificationRefusal =
  | 'invalid_key'
  | 'key_revoked'
  | 'key_expired'
  | 'device_mismatch'
  | 'forbidden'
  | ProofRefusal;

export type Verification =
  | { readonly valid: true; readonly state: KeyState; readonly device: DeviceRow | undefined }
  | { readonly valid: false; readonly code: VerificationRefusal; readonly message: string };

/** The service chose the URL: the proof is checked against the authority it names, whichever it is. */
const ANY_AUDIENCE: Audience = { serves: () => true };

const UNKNOWN: Verification = { valid: false, code: 'invalid_key', message: 'Invalid API key' };

/** X-API-Key, else `Authorization: Bearer <key>`, as the server's own API reads them. */
function presentedKey(headers: ReadonlyMap<string, string>): string | undefined {
  const header = headers.get('x-api-key');
  if (header !== undefined) return header;
  const match = /^Bearer[ \t]+(\S.*)$/i.exec(headers.get('authorization') ?? '');
  return match?.[1];
}

/**
 * The same checks as the server's own API, in its order: the key (one of the verifier's
 * organization, else it is unknown, whatever it is), the device it is bound to and that device's
 * proof (its nonce claimed in the same replay cache as the API's), then the permissions asked.
 */
export async function verifyServiceRequest(
  store: Store,
  secrets: Secrets,
  proofs: ProofVerifier,
  organizationId: string,
  request: ServiceRequest,
  now: Date,
): Promise<Verification> {
  const check = await checkKey(store, secrets, presentedKey(request.headers), now);
  if (!check.ok && check.reason === 'unknown') return UNKNOWN;
  if (check.state.record.organization.id !== organizationId) return UNKNOWN;
  if (!check.ok) {
    return check.reason === 'revoked'
      ? { valid: false, code: 'key_revoked', message: 'This API key has been revoked.' }
      : { valid: false, code: 'key_expired', message: `This API key expired at ${check.expiresAt}.` };
  }
  const { state } = check;
  const device = state.device;
  if (device !== undefined) {
    if (request.headers.get('x-sekuire-device') !== device.fingerprint) {
      return {
        valid: false,
        code: 'device_mismatch',
        message: `This API key is bound to another device (${device.name}, ${device.os}, since ${device.bound_at}).`,
      };
    }
    if (device.public_key !== null && device.key_thumbprint !== null) {
      const verdict = await proofs.verify(
        {
          method: request.method,
          authority: authorityOf(request.url),
          target: `${request.url.pathname}${request.url.search}`,
          body: undefined,
          signatureInput: request.headers.get('signature-input'),
          signature: request.headers.get('signature'),
          contentDigest: request.headers.get('content-digest'),
        },
        { publicKey: device.public_key, thumbprint: device.key_thumbprint },
        ANY_AUDIENCE,
      );
      if (!verdict.ok) return { valid: false, code: verdict.code, message: verdict.message };
    }
  }
  const missing = missingPermissions(state.record.key.permissions, request.requiredPermissions);
  if (missing.length > 0) {
    return {
      valid: false,
      code: 'forbidden',
      message: `This API key lacks the permission${missing.length === 1 ? '' : 's'} ${missing.join(', ')}.`,
    };
  }
  try {
    await recordKeyUse(store, state, now);
  } catch (error) {
    // "Last used" is bookkeeping: a database that cannot take the write must not fail the check.
    if (!(error instanceof StoreError)) throw error;
  }
  return { valid: true, state, device };
}
