// ipFamily gives net.isIP's answer for addresses, names and junk alike.
import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipFamily } from '../../packages/cli/src/core/ip.js';

describe('ipFamily', () => {
  it.each([
    '127.0.0.1',
    '255.255.255.255',
    '256.0.0.1',
    '01.2.3.4',
    '1.2.3',
    '::1',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    'fe80::1%eth0',
    '[::1]',
    '1::2::3',
    'localhost',
    'example.com',
    '',
    ':',
    '::',
    '::1/128',
  ])('%j as net.isIP says', (host) => {
    expect(ipFamily(host)).toBe(isIP(host));
  });

  it('agrees with net.isIP on generated addresses and text', () => {
    const host = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.ipV4Extended(),
      fc.domain(),
      fc.string(),
      fc.stringMatching(/^[0-9a-f:.]{0,20}$/),
    );
    fc.assert(
      fc.property(host, (h) => ipFamily(h) === isIP(h)),
      { numRuns: 2000 },
    );
  });
});
