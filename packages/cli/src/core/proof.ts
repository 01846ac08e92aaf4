// Signs a request with this device's key: the proof headers of proof-format.ts, a fresh nonce each time.
import { contentDigest, PROOF_LABEL, signatureBase, signatureParams } from '@sekuire/shared/proof-format';
import type { DeviceKey } from './device-key.js';

/** `nowSeconds`: this machine's clock, corrected by the skew the backend reported, if any. */
export function proofHeaders(
  key: DeviceKey,
  method: string,
  url: URL,
  body: string | undefined,
  nowSeconds: number,
): Record<string, string> {
  // node:crypto on first use: the modules that import this one also run `status --offline`.
  const { randomBytes, sign } = process.getBuiltinModule('node:crypto');
  const digest = contentDigest(body);
  const params = signatureParams({
    created: Math.floor(nowSeconds),
    nonce: randomBytes(16).toString('base64url'),
    keyid: key.thumbprint,
  });
  const base = signatureBase(method, url.pathname, url.search, digest, params);
  const signature = sign('sha256', Buffer.from(base), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return {
    'Content-Digest': digest,
    'Signature-Input': `${PROOF_LABEL}=${params}`,
    Signature: `${PROOF_LABEL}=:${signature.toString('base64')}:`,
  };
}
