// Key checks: one answer for missing/malformed/unknown keys, revoked, expired, and the failure limiter.

import { mintKey } from '@sekuire/shared/key';
import { afterEach, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../../packages/server/src/domain/keys.js';
import { DEFAULT_FAILURE_LIMIT } from '../../packages/server/src/http/rate-limit.js';
import { forEachEngine } from '../helpers/engines.js';
import { FP_A, type Harness, type HarnessOptions, harness, T0 } from './harness.js';

forEachEngine((engine) => {
  let h: Harness;
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });
  const start = (options: HarnessOptions = {}) => harness({ engine, ...options });
  const limit = (max: number, windowMs = 60_000, globalMax = DEFAULT_FAILURE_LIMIT.globalMax) => ({
    failureLimit: { max, windowMs, globalMax },
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
    // As the CLI sends them: the login registers FP_A's device key, and every request is signed.
    const device = h.deviceKey(FP_A);
    const payload =
      method === 'POST'
        ? JSON.stringify({
            device: {
              fingerprint: FP_A,
              name: 'n',
              os: 'o',
              os_version: 'v',
              arch: 'a',
              public_key: device.publicJwk,
            },
          })
        : undefined;
    return h.inject({
      method,
      url,
      headers: {
        'x-sekuire-device': FP_A,
        ...(payload !== undefined && { 'content-type': 'application/json' }),
        ...h.sign(device, method, url, payload),
        ...headers,
      },
      ...(payload !== undefined && { payload }),
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
      h = await start(limit(1_000));
      const stored = await h.createKey();
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
      h = await start();
      const other = await start();
      try {
        const created = await other.createKey();
        // Copy the row as is into h's database: same key, digest made with other's secret.
        const columns =
          'id, digest, masked, environment, type, name, user_id, workspace_id, created_at, expires_at, revoked_at';
        const row = await other.sql.get<Record<string, string | Buffer | null>>(
          `SELECT ${columns} FROM api_keys`,
        );
        await h.sql.run('INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)', [
          created.user.id,
          'x@example.com',
          'x',
          'now',
        ]);
        await h.sql.run('INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)', [
          created.organization.id,
          'X',
          'now',
        ]);
        await h.sql.run('INSERT INTO workspaces (id, org_id, name, created_at) VALUES (?, ?, ?, ?)', [
          created.workspace.id,
          created.organization.id,
          'W',
          'now',
        ]);
        await h.sql.run(
          `INSERT INTO api_keys (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          columns.split(', ').map((column) => row?.[column] ?? null),
        );
        expect((await other.get('/api/v1/cli/status', created.apiKey.value, FP_A)).statusCode).toBe(200);
        const response = await h.get('/api/v1/cli/status', created.apiKey.value, FP_A);
        expect(response.statusCode).toBe(401);
        expect(response.json()).toEqual(INVALID);
      } finally {
        await other.close();
      }
    });

    it('accepts "Bearer" in any case and X-API-Key over Authorization', async () => {
      h = await start();
      const created = await h.createKey();
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
      h = await start();
      const created = await h.createKey();
      await revokeApiKey(h.store, created.key.id, h.now());
      for (const [method, url] of ROUTES) {
        const response = await withKey({ 'x-api-key': created.apiKey.value }, method, url);
        expect(response.statusCode).toBe(401);
        expect(response.json()).toEqual({ error: 'key_revoked', message: 'This API key has been revoked.' });
      }
    });

    it('a key expires exactly at expires_at', async () => {
      h = await start();
      const created = await h.createKey({ expiresInDays: 1 });
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
          expires_at: expiresAt,
        });
      }
    });

    it('revoked wins over expired', async () => {
      h = await start();
      const created = await h.createKey({ expiresInDays: 0 });
      await revokeApiKey(h.store, created.key.id, h.now());
      const response = await withKey({ 'x-api-key': created.apiKey.value }, 'GET', '/api/v1/cli/status');
      expect(response.json().error).toBe('key_revoked');
    });
  });

  describe('failure limiter', () => {
    const rateLimitedEvents = async () =>
      (await h.store.read.audit.list()).filter((event) => event.event === 'rate_limited');

    it('after N failures from one address: 429 with Retry-After, one audit event, valid keys unaffected', async () => {
      h = await start(limit(3));
      const revoked = await h.createKey();
      await revokeApiKey(h.store, revoked.key.id, h.now());
      const valid = await h.createKey({ email: 'ok@example.com' });
      for (let i = 0; i < 3; i++) {
        expect((await withKey({ 'x-api-key': 'nope' }, 'GET', '/api/v1/cli/status')).statusCode).toBe(401);
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
      // A known key is told the truth even from a limited address: a revoked key is not a guess,
      // and its owner must see "revoked" (exit 11), not "try later" (exit 13).
      const told = await withKey({ 'x-api-key': revoked.apiKey.value }, 'GET', '/api/v1/cli/status');
      expect(told.statusCode).toBe(401);
      expect(told.json().error).toBe('key_revoked');
      // A valid key from the same address is answered normally, repeatedly.
      for (const [method, url] of ROUTES) {
        const response = await withKey({ 'x-api-key': valid.apiKey.value }, method, url);
        expect(response.statusCode).toBe(200);
        expect(response.headers['retry-after']).toBeUndefined();
        expect(response.headers['x-ratelimit-limit']).toBeUndefined();
      }
      // Another address has its own budget.
      expect(
        (await withKey({ 'x-api-key': 'nope' }, 'GET', '/api/v1/cli/status', '10.9.8.7')).statusCode,
      ).toBe(401);

      expect(await rateLimitedEvents()).toEqual([
        {
          id: expect.any(Number),
          at: T0.toISOString(),
          event: 'rate_limited',
          key_id: null,
          fingerprint: null,
          device_name: null,
          client_ip: '127.0.0.1',
          actor_user_id: null,
          detail: { retry_after_seconds: 60, scope: 'address' },
        },
      ]);
    });

    it('revoked and expired keys are not counted as failures', async () => {
      h = await start(limit(2));
      const revoked = await h.createKey();
      await revokeApiKey(h.store, revoked.key.id, h.now());
      const expired = await h.createKey({ expiresInDays: 0 });
      for (let i = 0; i < 5; i++) {
        expect(
          (await withKey({ 'x-api-key': revoked.apiKey.value }, 'GET', '/api/v1/cli/status')).statusCode,
        ).toBe(401);
        expect(
          (await withKey({ 'x-api-key': expired.apiKey.value }, 'GET', '/api/v1/cli/status')).statusCode,
        ).toBe(401);
      }
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await withKey({}, 'GET', '/api/v1/cli/status')).statusCode);
      expect(statuses).toEqual([401, 401, 429]);
    });

    it('IPv6 addresses of one /64 share a budget; another /64 has its own', async () => {
      h = await start(limit(2));
      const statuses = [];
      for (const address of ['2001:db8:1:2::1', '2001:db8:1:2::ffff', '2001:db8:1:2:aaaa:bbbb:cccc:dddd']) {
        statuses.push((await withKey({}, 'GET', '/api/v1/cli/status', address)).statusCode);
      }
      expect(statuses).toEqual([401, 401, 429]);
      expect((await withKey({}, 'GET', '/api/v1/cli/status', '2001:db8:1:3::1')).statusCode).toBe(401);
    });

    it('rotating addresses meets the global budget: 429 for everyone failing, valid keys still answered', async () => {
      h = await start(limit(100, 60_000, 5));
      const valid = await h.createKey();
      const statuses = [];
      for (let i = 1; i <= 7; i++) {
        statuses.push((await withKey({}, 'GET', '/api/v1/cli/status', `127.0.${i}.${i}`)).statusCode);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
      const limited = await withKey({}, 'GET', '/api/v1/cli/status', '10.0.0.1');
      expect(limited.statusCode).toBe(429);
      expect(limited.json().message).toBe(
        'Too many failed API key checks from all addresses together; retry in 60 seconds.',
      );
      expect(
        (await withKey({ 'x-api-key': valid.apiKey.value }, 'GET', '/api/v1/cli/status', '10.0.0.2'))
          .statusCode,
      ).toBe(200);
      expect((await rateLimitedEvents()).map((event) => event.detail)).toEqual([
        { retry_after_seconds: 60, scope: 'global' },
      ]);
    });

    it('requests with a valid key are not counted', async () => {
      h = await start(limit(2));
      const valid = await h.createKey();
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
      h = await start(limit(1, 300));
      const statuses = async () => {
        const out = [];
        for (let i = 0; i < 4; i++) out.push((await withKey({}, 'GET', '/api/v1/cli/status')).statusCode);
        return out;
      };
      expect(await statuses()).toEqual([401, 429, 429, 429]);
      expect(await rateLimitedEvents()).toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, 350));
      expect(await statuses()).toEqual([401, 429, 429, 429]);
      expect(await rateLimitedEvents()).toHaveLength(2);
    });
  });
});
