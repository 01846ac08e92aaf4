// --trust-proxy in-process: the SPEC's rule, and what X-Forwarded-* change with it and without it.
import fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTrustProxy, type TrustProxy } from '../../packages/server/src/http/trust-proxy.js';
import { deviceBody, FP_B, type Harness, type HarnessOptions, harness, PASSWORD } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  if (h === undefined) return;
  expect(h.logged).toEqual([]);
  await h.close();
  h = undefined;
});

const start = async (options: HarnessOptions = {}): Promise<Harness> => {
  h = await harness({ failureLimit: { max: 2, globalMax: 100, windowMs: 60_000 }, ...options });
  return h;
};

const USAGE =
  '--trust-proxy takes a hop count (1 for one proxy in front) or a comma-separated list of addresses and CIDRs (127.0.0.1,10.0.0.0/8, or loopback)';

describe('the SPEC', () => {
  it.each<[string, TrustProxy, string]>([
    ['1', 1, '203.0.113.9'],
    ['2', 2, '203.0.113.9'],
    ['127.0.0.1', ['127.0.0.1'], '127.0.0.1'],
    // A server listening on :: sees IPv4 peers as IPv4-mapped IPv6: the same address to the list.
    ['127.0.0.1', ['127.0.0.1'], '::ffff:127.0.0.1'],
    [' 10.0.0.0/8 , ::1 ', ['10.0.0.0/8', '::1'], '10.1.2.3'],
    ['loopback', ['loopback'], '::1'],
    ['2001:db8::/32,uniquelocal', ['2001:db8::/32', 'uniquelocal'], '2001:db8::5'],
  ])('%j trusts %j: Fastify takes the X-Forwarded-For of a request from %s', async (spec, trust, peer) => {
    expect(parseTrustProxy(spec, '--trust-proxy')).toEqual({ trust });
    const app = fastify({ trustProxy: typeof trust === 'number' ? trust : [...trust] });
    app.get('/', async (request) => ({ ip: request.ip }));
    const seen = await app.inject({
      url: '/',
      remoteAddress: peer,
      headers: { 'x-forwarded-for': '198.51.100.7' },
    });
    expect(seen.json()).toEqual({ ip: '198.51.100.7' });
    if (typeof trust !== 'number') {
      // From an address the list does not name, the header is the client's own word: ignored.
      const untrusted = await app.inject({
        url: '/',
        remoteAddress: '192.0.2.1',
        headers: { 'x-forwarded-for': '198.51.100.7' },
      });
      expect(untrusted.json()).toEqual({ ip: '192.0.2.1' });
    }
    await app.close();
  });

  it.each([
    ['0', `${USAGE}; 0 trusts no proxy: leave --trust-proxy out instead.`],
    ['', `${USAGE}, not "": an entry is empty.`],
    ['true', `${USAGE}, not "true": "true" is not an IP address.`],
    ['127.0.0.1,', `${USAGE}, not "127.0.0.1,": an entry is empty.`],
    [
      '10.0.0.0/33',
      `${USAGE}, not "10.0.0.0/33": "10.0.0.0/33" needs a prefix length from 0 to 32 after the "/".`,
    ],
    ['::1/129', `${USAGE}, not "::1/129": "::1/129" needs a prefix length from 0 to 128 after the "/".`],
    ['10.0.0.0/8/8', `${USAGE}, not "10.0.0.0/8/8": "10.0.0.0/8/8" has more than one "/".`],
    ['fe80::1%eth0', `${USAGE}, not "fe80::1%eth0": "fe80::1%eth0" is not an IP address.`],
    ['proxy.internal', `${USAGE}, not "proxy.internal": "proxy.internal" is not an IP address.`],
  ])('%j is refused: %s', (spec, problem) => {
    expect(parseTrustProxy(spec, '--trust-proxy')).toEqual({ problem });
  });
});

/** The answer to a bad key from `peer`, forwarded for `forwardedFor` when given. */
async function badKey(server: Harness, forwardedFor?: string, peer = '127.0.0.1'): Promise<number> {
  const response = await server.inject({
    method: 'GET',
    url: '/api/v1/cli/status',
    remoteAddress: peer,
    headers: { 'x-api-key': 'nope', ...(forwardedFor !== undefined && { 'x-forwarded-for': forwardedFor }) },
  });
  return response.statusCode;
}

async function rateLimitedAddresses(server: Harness): Promise<(string | null)[]> {
  const events = await server.store.read.audit.list();
  return events.filter((event) => event.event === 'rate_limited').map((event) => event.client_ip);
}

/** What a proxy ending TLS sends along: the scheme and host the client used. */
const FROM_HTTPS = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'sekuire.example' };

async function verificationUri(
  server: Harness,
  headers: Record<string, string>,
  peer = '127.0.0.1',
  signFor?: string,
): Promise<string> {
  const response = await server.post('/api/v1/cli/device/code', deviceBody(FP_B), {
    device: server.deviceKey(FP_B),
    headers,
    remoteAddress: peer,
    ...(signFor !== undefined && { signFor }),
  });
  expect(response.statusCode).toBe(200);
  return (response.json() as { verification_uri: string }).verification_uri;
}

describe('without --trust-proxy, X-Forwarded-* change nothing', () => {
  it('a client naming other addresses is still one address to the failure limit and the audit', async () => {
    const server = await start();
    expect([await badKey(server, '198.51.100.1'), await badKey(server, '198.51.100.2')]).toEqual([401, 401]);
    expect(await badKey(server, '198.51.100.3')).toBe(429);
    expect(await rateLimitedAddresses(server)).toEqual(['127.0.0.1']);
  });

  it('claiming https gets no Secure or __Host- cookie and no HSTS; URLs keep the real scheme and host', async () => {
    const server = await start();
    const page = await server.inject({ method: 'GET', url: '/login', headers: FROM_HTTPS });
    expect(page.headers['set-cookie']).toMatch(/^sekuire_csrf=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(page.headers['strict-transport-security']).toBeUndefined();
    expect(await verificationUri(server, FROM_HTTPS)).toBe('http://localhost:80/device');
  });
});

describe('with --trust-proxy 127.0.0.1', () => {
  const trustProxy = ['127.0.0.1'];

  it("each client's failures count for that client alone, and the audit names it", async () => {
    const server = await start({ trustProxy });
    expect([await badKey(server, '198.51.100.1'), await badKey(server, '198.51.100.1')]).toEqual([401, 401]);
    expect(await badKey(server, '198.51.100.1')).toBe(429);
    expect(await badKey(server, '198.51.100.2')).toBe(401);
    // A client writing its own X-Forwarded-For: the proxy appends the real address, which counts.
    expect(await badKey(server, '198.51.100.2, 198.51.100.1')).toBe(429);
    // Not from the proxy: the header is ignored, the peer counts.
    expect(await badKey(server, '198.51.100.3', '192.0.2.1')).toBe(401);
    expect(await rateLimitedAddresses(server)).toEqual(['198.51.100.1']);
  });

  it('https at the proxy: __Host- Secure cookies, HSTS, a session that works, URLs with its scheme and host', async () => {
    // The proxy's public origin is named (start --public-url): the CLI signs its proofs for it.
    const server = await start({ trustProxy, publicUrls: ['https://sekuire.example'] });
    await server.createUser({ email: 'ada@example.com' });
    const page = await server.inject({ method: 'GET', url: '/login', headers: FROM_HTTPS });
    expect(page.headers['set-cookie']).toMatch(
      /^__Host-sekuire_csrf=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    expect(page.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const csrf = page.cookies[0] as { name: string; value: string };
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const signedIn = await server.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FROM_HTTPS, 'content-type': 'application/x-www-form-urlencoded' },
      cookies: { [csrf.name]: csrf.value },
      payload: new URLSearchParams({ _csrf: token, email: 'ada@example.com', password: PASSWORD }).toString(),
    });
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers['set-cookie']).toEqual([
      expect.stringMatching(
        /^__Host-sekuire_session=sek_ck_\w+; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/,
      ),
      expect.stringMatching(
        /^__Host-sekuire_known=[^;]+; Max-Age=15552000; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
      ),
    ]);
    const session = signedIn.cookies[0] as { name: string; value: string };
    const keys = await server.inject({
      method: 'GET',
      url: '/dashboard/settings?tab=api-keys',
      headers: FROM_HTTPS,
      cookies: { [session.name]: session.value },
    });
    expect(keys.statusCode).toBe(200);
    expect(keys.body).toContain('<h1>API Keys</h1>');
    expect(await verificationUri(server, FROM_HTTPS, '127.0.0.1', 'https://sekuire.example')).toBe(
      'https://sekuire.example/device',
    );
  });

  it('plain http at the proxy, or a request not from it: plain cookies, no HSTS, its own Host', async () => {
    const server = await start({ trustProxy });
    const http = await server.inject({
      method: 'GET',
      url: '/login',
      headers: { 'x-forwarded-proto': 'http' },
    });
    expect(http.headers['set-cookie']).toMatch(/^sekuire_csrf=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(http.headers['strict-transport-security']).toBeUndefined();
    const around = await server.inject({
      method: 'GET',
      url: '/login',
      remoteAddress: '192.0.2.1',
      headers: FROM_HTTPS,
    });
    expect(around.headers['set-cookie']).toMatch(/^sekuire_csrf=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(around.headers['strict-transport-security']).toBeUndefined();
    expect(await verificationUri(server, FROM_HTTPS, '192.0.2.1')).toBe('http://localhost:80/device');
  });
});
