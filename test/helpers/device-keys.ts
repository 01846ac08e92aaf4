// Device keys for tests that speak HTTP themselves: a P-256 pair in memory, and the proof headers it signs.
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import {
  contentDigest,
  jwkThumbprint,
  LEGACY_COVERED,
  PROOF_ALG,
  PROOF_LABEL,
  type PublicJwk,
  signatureBase,
} from '@sekuire/shared/proof-format';
import { type DeviceKey, newP256Jwk } from '../../packages/cli/src/core/device-key.js';
import { proofHeaders } from '../../packages/cli/src/core/proof.js';

export function memoryDeviceKey(): DeviceKey {
  // newP256Jwk, not generateKeyPairSync + export: that pair can hang Node 20 (see there).
  const jwk = newP256Jwk();
  const privateKey = createPrivateKey({ key: { ...jwk }, format: 'jwk' });
  const publicJwk: PublicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  return { privateKey, publicJwk, thumbprint: jwkThumbprint(publicJwk), path: '', warnings: [] };
}

/**
 * The proof headers for one request, as the CLI makes them. `target` is the path and query (or
 * a whole URL); a path is signed for http://localhost, the authority of in-process requests
 * (the harness's public URL). `nowMs` dates the proof (the server's clock in in-process tests).
 */
export function signed(
  key: DeviceKey,
  method: string,
  target: string,
  body: string | undefined,
  nowMs: number = Date.now(),
): Record<string, string> {
  const url = new URL(target, 'http://localhost');
  return proofHeaders(key, method, url, body, nowMs / 1000);
}

/**
 * The proof headers an earlier CLI made: the same profile without "@authority" (accepted until
 * the cut-over, PROTOCOL.md).
 */
export function legacySigned(
  key: DeviceKey,
  method: string,
  target: string,
  body: string | undefined,
  nowMs: number = Date.now(),
): Record<string, string> {
  const url = new URL(target, 'http://localhost');
  const digest = contentDigest(body);
  const params = `${LEGACY_COVERED};created=${Math.floor(nowMs / 1000)};nonce="${randomBytes(16).toString('base64url')}";keyid="${key.thumbprint}";alg="${PROOF_ALG}"`;
  const base = signatureBase(method, url.pathname, url.search, digest, params);
  const signature = sign('sha256', Buffer.from(base), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return {
    'Content-Digest': digest,
    'Signature-Input': `${PROOF_LABEL}=${params}`,
    Signature: `${PROOF_LABEL}=:${signature.toString('base64')}:`,
  };
}
