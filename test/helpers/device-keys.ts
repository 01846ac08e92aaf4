// Device keys for tests that speak HTTP themselves: a P-256 pair in memory, and the proof headers it signs.
import { generateKeyPairSync } from 'node:crypto';
import { jwkThumbprint, type PublicJwk } from '@sekuire/shared/proof-format';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import { proofHeaders } from '../../packages/cli/src/core/proof.js';

export function memoryDeviceKey(): DeviceKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const publicJwk: PublicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x as string, y: jwk.y as string };
  return { privateKey, publicJwk, thumbprint: jwkThumbprint(publicJwk), path: '', warnings: [] };
}

/**
 * The proof headers for one request, as the CLI makes them. `target` is the path and query (or
 * a whole URL); `nowMs` dates the proof (the server's clock in in-process tests).
 */
export function signed(
  key: DeviceKey,
  method: string,
  target: string,
  body: string | undefined,
  nowMs: number = Date.now(),
): Record<string, string> {
  const url = new URL(target, 'http://127.0.0.1');
  return proofHeaders(key, method, url, body, nowMs / 1000);
}
