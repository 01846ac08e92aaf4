// Property tests: random bodies, header values and paths never crash the app or produce a 5xx.
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FP_A, type Harness, harness } from './harness.js';

const RUNS = 200;
let h: Harness;
let key: string;

beforeAll(async () => {
  h = await harness();
  key = (await h.createKey()).apiKey.value;
});
afterAll(async () => {
  expect(h.logged).toEqual([]);
  await h.close();
});

/** Printable ASCII and Latin-1: what an HTTP header value can carry. */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  fc.integer({ min: 0xa0, max: 0xff }).map((code) => String.fromCharCode(code)),
);
const headerValue = fc.oneof(
  fc.string({ unit: headerChar, maxLength: 80 }),
  fc.constantFrom('', FP_A, FP_A.toUpperCase(), 'Bearer ', 'Bearer sk_test_', 'sk_live_'),
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 60, maxLength: 68 }),
);

function expectContractError(response: LightMyRequestResponse, allowed: number[]): void {
  expect(allowed).toContain(response.statusCode);
  expect(response.headers['cache-control']).toBe('no-store');
  if (response.statusCode >= 300 && response.body !== '') {
    const body = response.json() as { error: unknown; message: unknown };
    expect(typeof body.error).toBe('string');
    expect(typeof body.message).toBe('string');
  }
}

describe('fuzzing with inject', () => {
  it('random login bodies, signed by a real device key, get 200, 400 or 401, never 5xx', async () => {
    const device = h.deviceKey(FP_A);
    const bodies = fc.oneof(
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc
        .record({
          device: fc.oneof(
            fc.jsonValue(),
            fc.record(
              {
                fingerprint: fc.oneof(fc.constant(FP_A), fc.string()),
                name: fc.oneof(fc.string({ unit: 'binary' }), fc.jsonValue()),
                os: fc.string(),
                os_version: fc.string(),
                arch: fc.string(),
                public_key: fc.oneof(fc.constant(device.publicJwk), fc.jsonValue()),
              },
              { requiredKeys: [] },
            ),
          ),
          rebind: fc.jsonValue(),
        })
        .map((value) => JSON.stringify(value)),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (payload) => {
        const response = await h.inject({
          method: 'POST',
          url: '/api/v1/cli/login',
          headers: {
            'x-api-key': key,
            'content-type': 'application/json',
            ...h.sign(device, 'POST', '/api/v1/cli/login', payload),
          },
          payload,
        });
        // 401: no public key (proof_required) or one that did not sign (invalid_proof).
        expectContractError(response, [200, 400, 401]);
      }),
      { numRuns: RUNS },
    );
  });

  it('random header values get 200/400/401/409/429, never 5xx', async () => {
    const paths = fc.constantFrom(
      '/api/v1/cli/status',
      '/api/v1/cli/whoami',
      '/api/v1/cli/logout',
      '/api/v1/cli/login',
    );
    await fc.assert(
      fc.asyncProperty(
        paths,
        fc.record(
          {
            'x-api-key': fc.oneof(headerValue, fc.constant(key)),
            authorization: headerValue.map((value) => `Bearer ${value}`),
            'x-sekuire-device': headerValue,
            'content-type': fc.oneof(headerValue, fc.constant('application/json')),
            'signature-input': headerValue.map((value) => `sekuire=${value}`),
            signature: headerValue,
            'content-digest': headerValue,
          },
          { requiredKeys: [] },
        ),
        fc.ipV4(),
        async (url, headers, remoteAddress) => {
          const method = url.endsWith('login') || url.endsWith('logout') ? 'POST' : 'GET';
          const response = await h.inject({
            method,
            url,
            headers,
            remoteAddress,
            ...(method === 'POST' && { payload: '{}' }),
          });
          expectContractError(response, [200, 400, 401, 409, 429]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('random paths get 4xx (or 200 for health), never 5xx', async () => {
    const segment = fc.oneof(
      fc.constantFrom(
        'api',
        'v1',
        'cli',
        'status',
        'health',
        'login',
        '..',
        '.',
        '',
        '%00',
        '%zz',
        '%2F',
        '%E0%A4%A',
      ),
      fc.string({ unit: fc.constantFrom(..."abcXYZ019-._~%!$&'()*+,;=:@"), maxLength: 12 }),
    );
    const path = fc.array(segment, { maxLength: 6 }).map((segments) => `/${segments.join('/')}`);
    const query = fc.option(fc.string({ unit: fc.constantFrom(...'ab=&%?#/'), maxLength: 10 }), {
      nil: undefined,
    });
    await fc.assert(
      fc.asyncProperty(
        path,
        query,
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS'),
        async (p, q, method) => {
          const response = await h.inject({
            method: method as 'GET',
            url: q === undefined ? p : `${p}?${q}`,
            headers: { 'x-api-key': key, 'x-sekuire-device': FP_A },
          });
          if (String(response.headers['content-type'] ?? '').startsWith('text/html')) {
            // The dashboard's pages (/login, /dashboard…): a page, a redirect or a refused form, never a 5xx.
            expect([200, 302, 303, 400, 401, 403, 404, 429]).toContain(response.statusCode);
            expect(response.headers['cache-control']).toBe('no-store');
          } else if (response.statusCode === 302 || response.statusCode === 303) {
            expect(response.headers.location).toMatch(/^\/(login|dashboard)/);
          } else {
            expectContractError(response, [200, 400, 401, 404, 409, 429]);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
