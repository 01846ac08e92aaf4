// Signs a request with this device's key: the proof headers of proof-format.ts, a fresh nonce each time.
import {
  authorityOf,
  contentDigest,
  PROOF_LABEL,
  signatureBase,
  signatureParams,
} from '@sekuire/shared/proof-format';
import type { DeviceKey } from './device-key.js';
import type { DeviceSigner } from './key-store/types.js';

type ProofHeaders = Record<string, string>;

type ProofKey = DeviceKey | Pick<DeviceSigner, 'thumbprint' | 'sign'>;

/**
 * `url`: where the request goes (its authority is signed: the proof is for that server only).
 * `nowSeconds`: this machine's clock, corrected by the skew the backend reported, if any. A key
 * file's key signs in process and answers at once; the agent, keyring and TPM stores may answer
 * with a promise.
 */
export function proofHeaders(
  key: DeviceKey,
  method: string,
  url: URL,
  body: string | undefined,
  nowSeconds: number,
): ProofHeaders;
export function proofHeaders(
  key: ProofKey,
  method: string,
  url: URL,
  body: string | undefined,
  nowSeconds: number,
): ProofHeaders | Promise<ProofHeaders>;
export function proofHeaders(
  key: ProofKey,
  method: string,
  url: URL,
  body: string | undefined,
  nowSeconds: number,
): ProofHeaders | Promise<ProofHeaders> {
  // node:crypto on first use: the modules that import this one also run `status --offline`.
  const { randomBytes, sign } = process.getBuiltinModule('node:crypto');
  const digest = contentDigest(body);
  const params = signatureParams({
    created: Math.floor(nowSeconds),
    nonce: randomBytes(16).toString('base64url'),
    keyid: key.thumbprint,
  });
  const base = signatureBase(method, url.pathname, url.search, digest, params, authorityOf(url));
  const headers = (signature: Buffer): ProofHeaders => ({
    'Content-Digest': digest,
    'Signature-Input': `${PROOF_LABEL}=${params}`,
    Signature: `${PROOF_LABEL}=:${signature.toString('base64')}:`,
  });
  const signature =
    'privateKey' in key
      ? sign('sha256', Buffer.from(base), { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
      : key.sign(Buffer.from(base));
  return signature instanceof Promise ? signature.then(headers) : headers(signature);
}
