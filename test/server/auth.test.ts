// Key checks: one answer for missing/malformed/unknown keys, revoked, expired, and the failure limiter.
import { afterEach, describe, expect, it } from 'vitest';
import { mintKey } from '../../src/core/key.js';
import { revokeApiKey } from '../../src/server/provision.js';
import { FP_A, type Harness, harness, T0 } from './harness.js';

let h: Harness;
afterEach(async () => {
  expect(h.logged).toEqual([]);
  await h.close();
});

const INVALID = { error: 'invalid_key', message: 'Invalid API key' };
const ROUTES = [
  ['POST', '/api/v1/cli/login'],
  ['GET', '/api/v1/cli/status'],
  ['GET', '/api/v1/cli/whoami'],
  ['POST', '/api/v1/cli/logout'],
] as const;

function withKey(
  headers: Record<string, string>,
  method: 'GET' | 'POST',
  url: string,
  remoteAddress?: string,
) {
  return h.inject({
    method,
    url,
    headers: { 'x-sekuire-device': FP_A, ...headers },
    ...(method === 'POST' && {
      payload: { device: { fingerprint: FP_A, name: 'n', os: 'o', os_version: 'v', arch: 'a' } },
    }),
    ...(remoteAddress !== undefined && { remoteAddress }),
  });
}

/** Status, body and headers, minus the Date header that differs between calls. */
function comparable(response: Awaited<ReturnType<typeof withKey>>) {
  const { date: _date, ...headers } = response.headers;
  return { status: response.statusCode, body: response.body, headers };
}

describe('invalid keys', () => {
  it('missing, malformed and unknown keys get byte-identical 401s on every route', async () => {
    h = await harness({ failureLimit: { max: 1_000, windowMs: 60_000 } });
    const stored = h.createKey();
    const unknown = mintKey('test').value;
    const tampered = `${stored.apiKey.value.slice(0, -1)}${stored.apiKey.value.endsWith('A') ? 'B' : 'A'}`;
    const variants: Record<string, string>[] = [
      {},
      { 'x-api-key': '' },
      { 'x-api-key': 'hello' },
      { 'x-api-key': 'sk_test_short' },
      { 'x-api-key': `${unknown.slice(0, -6)}000000` },
      { 'x-api-key': unknown.replace('sk_test_', 'sk_prod_') },
      { 'x-api-key': `${unknown}x` },
      { 'x-api-key': tampered },
      { 'x-api-key': unknown },
      { 'x-api-key': mintKey('live').value },
      { authorization: `Bearer ${unknown}` },
      { authorization: `Basic ${stored.apiKey.value}` },
      { authorization: stored.apiKey.value },
    ];
    for (const [method, url] of ROUTES) {
      const baseline = comparable(await withKey({}, method, url));
      expect(baseline.status).toBe(401);
      expect(JSON.parse(baseline.body)).toEqual(INVALID);
      expect(baseline.headers['cache-control']).toBe('no-store');
      for (const headers of variants) {
        expect(comparable(await withKey(headers, method, url)), JSON.stringify(headers)).toEqual(baseline);
      }
    }
  });

  it('a key digested under another secret is unknown', async () => {
    h = await harness();
    const other = await harness();
    try {
      const created = other.createKey();
      // Copy the row as is into h's database: same key, digest made with other's secret.
      const row = other.db.prepare('SELECT * FROM api_keys').get() as Record<string, unknown>;
      h.db.prepare('INSERT INTO users VALUES (?, ?, ?, ?)').run(created.user.id, 'x@example.com', 'x', 'now');
      h.db.prepare('INSERT INTO organizations VALUES (?, ?, ?)').run(created.organization.id, 'X', 'now');
      h.db
        .prepare('INSERT INTO workspaces VALUES (?, ?, ?, ?)')
        .run(created.workspace.id, created.organization.id, 'W', 'now');
      h.db
        .prepare(
          'INSERT INTO api_keys VALUES (@id, @digest, @masked, @environment, @name, @user_id, @workspace_id, @created_at, @expires_at, @revoked_at)',
        )
        .run(row);
      expect((await other.get('/api/v1/cli/status', created.apiKey.value, FP_A)).statusCode).toBe(200);
      const response = await h.get('/api/v1/cli/status', created.apiKey.value, FP_A);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(INVALID);
    } finally {
      await other.close();
    }
  });

  it('accepts "Bearer" in any case and X-API-Key over Authorization', async () => {
    h = await harness();
    const created = h.createKey();
    const variants: Record<string, string>[] = [
      { authorization: `bearer ${created.apiKey.value}` },
      { authorization: `BEARER  ${created.apiKey.value}` },
      { 'x-api-key': created.apiKey.value, authorization: 'Bearer nonsense' },
    ];
    for (const headers of variants) {
      expect((await withKey(headers, 'GET', '/api/v1/cli/status')).statusCode).toBe(200);
    }
  });
});

describe('revoked and expired keys', () => {
  it('a revoked key gets 401 key_revoked on every route', async () => {
    h = await harness();
    const created = h.createKey();
    revokeApiKey(h.store, created.key.id, h.now());
    for (const [method, url] of ROUTES) {
      const response = await withKey({ 'x-api-key': created.apiKey.value }, method, url);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({ error: 'key_revoked', message: 'This API key has been revoked.' });
    }
  });

  it('a key expires exactly at expires_at', async () => {
    h = await harness();
    const created = h.createKey({ expiresInDays: 1 });
    const expiresAt = new Date(T0.getTime() + 86_400_000).toISOString();
    expect(created.key.expires_at).toBe(expiresAt);
    h.advance(86_400_000 - 1);
    const before = await withKey({ 'x-api-key': created.apiKey.value }, 'GET', '/api/v1/cli/status');
    expect(before.statusCode).toBe(200);
    expect(before.json().key.expires_at).toBe(expiresAt);
    h.advance(1);
    for (const [method, url] of ROUTES) {
      const response = await withKey({ 'x-api-key': created.apiKey.value }, method, url);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({
        error: 'key_expired',
        message: `This API key expired at ${expiresAt}.`,
      });
    }
  });

  it('revoked wins over expired', async () => {
    h = await harness();
    const created = h.createKey({ expiresInDays: 0 });
    revokeApiKey(h.store, created.key.id, h.now());
    const response = await withKey({ 'x-api-key': created.apiKey.value }, 'GET', '/api/v1/cli/status');
    expect(response.json().error).toBe('key_revoked');
  });
});

describe('failure limiter', () => {
  const rateLimitedEvents = () => h.store.audit.list().filter((event) => event.event === 'rate_limited');

  it('after N failures from one address: 429 with Retry-After, one audit event, valid keys unaffected', async () => {
    h = await harness({ failureLimit: { max: 3, windowMs: 60_000 } });
    const created = h.createKey();
    revokeApiKey(h.store, created.key.id, h.now());
    const expired = h.createKey({ expiresInDays: 0 });
    const valid = h.createKey({ email: 'ok@example.com' });
    // Each kind of failure counts: unknown, revoked, expired.
    const failures = [
      { 'x-api-key': 'nope' },
      { 'x-api-key': created.apiKey.value },
      { 'x-api-key': expired.apiKey.value },
    ];
    for (const headers of failures) {
      expect((await withKey(headers, 'GET', '/api/v1/cli/status')).statusCode).toBe(401);
    }
    for (let i = 0; i < 3; i++) {
      const limited = await withKey({ 'x-api-key': 'nope' }, 'GET', '/api/v1/cli/status');
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('60');
      expect(limited.headers['cache-control']).toBe('no-store');
      expect(limited.json()).toEqual({
        error: 'rate_limited',
        message: 'Too many failed API key checks from this address; retry in 60 seconds.',
      });
    }
    // Even the right key for a revoked key is refused while limited: the check failed.
    expect(
      (await withKey({ 'x-api-key': created.apiKey.value }, 'GET', '/api/v1/cli/status')).statusCode,
    ).toBe(429);
    // A valid key from the same address is answered normally, repeatedly.
    for (const [method, url] of ROUTES) {
      const response = await withKey({ 'x-api-key': valid.apiKey.value }, method, url);
      expect(response.statusCode).toBe(200);
      expect(response.headers['retry-after']).toBeUndefined();
      expect(response.headers['x-ratelimit-limit']).toBeUndefined();
    }
    // Another address has its own budget.
    expect((await withKey({ 'x-api-key': 'nope' }, 'GET', '/api/v1/cli/status', '10.9.8.7')).statusCode).toBe(
      401,
    );

    expect(rateLimitedEvents()).toEqual([
      {
        id: expect.any(Number),
        at: T0.toISOString(),
        event: 'rate_limited',
        key_id: null,
        fingerprint: null,
        device_name: null,
        client_ip: '127.0.0.1',
        detail: { retry_after_seconds: 60 },
      },
    ]);
  });

  it('requests with a valid key are not counted', async () => {
    h = await harness({ failureLimit: { max: 2, windowMs: 60_000 } });
    const valid = h.createKey();
    for (let i = 0; i < 20; i++) {
      expect(
        (await withKey({ 'x-api-key': valid.apiKey.value }, 'GET', '/api/v1/cli/whoami')).statusCode,
      ).toBe(200);
    }
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await withKey({}, 'GET', '/api/v1/cli/whoami')).statusCode);
    expect(statuses).toEqual([401, 401, 429]);
  });

  it('a new window starts over and writes one more event', async () => {
    h = await harness({ failureLimit: { max: 1, windowMs: 300 } });
    const statuses = async () => {
      const out = [];
      for (let i = 0; i < 4; i++) out.push((await withKey({}, 'GET', '/api/v1/cli/status')).statusCode);
      return out;
    };
    expect(await statuses()).toEqual([401, 429, 429, 429]);
    expect(rateLimitedEvents()).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await statuses()).toEqual([401, 429, 429, 429]);
    expect(rateLimitedEvents()).toHaveLength(2);
  });
});
