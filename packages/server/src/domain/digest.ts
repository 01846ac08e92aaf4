// The only form of a key the backend keeps: HMAC-SHA-256 under the server secret.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const DIGEST_LENGTH = 32;

export function keyDigest(secret: Buffer, key: string): Buffer {
  return createHmac('sha256', secret).update(key, 'utf8').digest();
}

/** Constant-time equality of two digests; false (not a throw) when the lengths differ. */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === DIGEST_LENGTH && b.length === DIGEST_LENGTH && timingSafeEqual(a, b);
}
