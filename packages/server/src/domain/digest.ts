// The only form of a key the backend keeps: HMAC-SHA-256 under the server secret.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const DIGEST_LENGTH = 32;

export function keyDigest(secret: Buffer, key: string): Buffer {
  return createHmac('sha256', secret).update(key, 'utf8').digest();
}

/** Constant-time equality of two digests; false (not a throw) when the lengths differ. */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === DIGEST_LENGTH && b.length === DIGEST_LENGTH && timingSafeEqual(a, b);
}

/**
 * The server's secrets, newest first: new digests are made under the first; a lookup tries each
 * in turn, and a row found under an older one is digested anew under the first.
 */
export type Secrets = readonly [Buffer, ...Buffer[]];

/**
 * A secret's short public name, stored beside each digest it made (rotate-secret counts by it):
 * 32 bits of its SHA-256, which tell nothing of a 256-bit secret.
 */
export function secretId(secret: Buffer): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 8);
}
