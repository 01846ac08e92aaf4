// Our SHA-256 and HMAC-SHA-256 (status --offline's fingerprint and thumbprint) against node:crypto's.
import { createHash, createHmac } from 'node:crypto';
import { hmacSha256, sha256 } from '@sekuire/shared/sha256';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('sha256', () => {
  it('gives the FIPS 180-4 examples', () => {
    expect(sha256('abc').toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(sha256('').toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it("equals node:crypto's for any bytes and text, across the padding boundaries", () => {
    for (let length = 0; length <= 200; length++) {
      const bytes = Buffer.alloc(length, length % 251);
      expect(sha256(bytes).toString('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1000 }), (bytes) => {
        expect(sha256(bytes).toString('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(sha256(text).toString('hex')).toBe(createHash('sha256').update(text).digest('hex'));
      }),
    );
  });
});

describe('hmacSha256', () => {
  it("equals node:crypto's for any key (shorter and longer than a block) and message", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 150 }),
        fc.uint8Array({ maxLength: 300 }),
        (key, data) => {
          expect(hmacSha256(key, data).toString('hex')).toBe(
            createHmac('sha256', key).update(data).digest('hex'),
          );
        },
      ),
    );
  });
});
