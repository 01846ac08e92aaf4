// POST /api/v1/verify: a service's server key with `verify` asks whether a request it received is genuine.
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../packages/server/src/http/app.js';
import { openStore } from '../../packages/server/src/store/open.js';
import { legacySigned, signed } from '../helpers/device-keys.js';
import { describeOnPostgres, forEachEngine } from '../helpers/engines.js';
import { FP_A, FP_B, type Harness, harness, T0, TEST_PASSWORD_COST } from './harness.js';

const SERVICE_URL = 'https://deploy.acme.example/deploy?env=prod';
const UNKNOWN = { valid: false, code: 'invalid_key', message: 'Invalid API key' };

forEachEngine((engine) => {
  let h: Harness;
  let verifyKey: string;
  let client: { key: string; id: string; userId: string; orgId: string; wsId: string };
  beforeEach(async () => {
    h = await harness({ engine, legacyProofsUntil: new Date(T0.getTime() + 60_000) });
    verifyKey = (
      await h.createKey({
        email: 'svc@acme.example',
        organization: 'Acme',
        type: 'server',
        permissions: ['verify'],
      })
    ).apiKey.value;
    const created = await h.createKey({
      email: 'dev@acme.example',
      organization: 'Acme',
      permissions: ['deploy:write', 'deploy:read'],
    });
    client = {
      key: created.apiKey.value,
      id: created.key.id,
      userId: created.user.id,
      orgId: created.organization.id,
      wsId: created.workspace.id,
    };
    expect((await h.login(client.key, FP_A)).statusCode).toBe(200);
  });
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  /** What the service received: the client's headers, signed for the service's URL. */
  function serviceRequest(
    options: { key?: string; fingerprint?: string; url?: string; method?: string; body?: string } = {},
  ) {
    const method = options.method ?? 'POST';
    const url = options.url ?? SERVICE_URL;
    const headers: Record<string, string> = {
      'X-API-Key': options.key ?? client.key,
      'X-Sekuire-Device': options.fingerprint ?? FP_A,
      ...signed(h.deviceKey(FP_A), method, url, options.body ?? '{"ref":"main"}', h.now().getTime()),
    };
    return { method, url, headers };
  }

  /** `key`: the caller's (the verify key unless given; null sends none). */
  const verify = (payload: unknown, key: string | null = verifyKey) =>
    h.inject({
      method: 'POST',
      url: '/api/v1/verify',
      headers: { 'content-type': 'application/json', ...(key !== null && { 'x-api-key': key }) },
      payload: JSON.stringify(payload),
    });

  const deviceOf = async () => {
    const devices = await h.sql.all('SELECT id, name FROM devices WHERE key_id = ? AND unbound_at IS NULL', [
      client.id,
    ]);
    return devices[0] as { id: string; name: string };
  };

  describe('a genuine request', () => {
    it('200 valid, with the key, its permissions, its owner, organization, workspace and device', async () => {
      const device = await deviceOf();
      const answer = await verify({ request: serviceRequest(), required_permissions: ['deploy:write'] });
      expect(answer.statusCode).toBe(200);
      expect(answer.json()).toEqual({
        valid: true,
        key: {
          id: client.id,
          environment: 'test',
          type: 'client',
          permissions: ['deploy:write', 'deploy:read'],
        },
        user: { id: client.userId, email: 'dev@acme.example' },
        organization: { id: client.orgId, name: 'Acme' },
        workspace: { id: client.wsId, name: 'Default' },
        device: { id: device.id, name: device.name, fingerprint: FP_A },
      });
      expect(answer.body).not.toContain(client.key);
    });

    it('a server key of the organization, bound to no device, needs no proof: device null', async () => {
      const server = await h.createKey({ email: 'ci@acme.example', organization: 'Acme', type: 'server' });
      const answer = await verify({
        request: {
          method: 'GET',
          url: SERVICE_URL,
          headers: { authorization: `Bearer ${server.apiKey.value}` },
        },
      });
      expect(answer.json()).toMatchObject({
        valid: true,
        key: { id: server.key.id, type: 'server', permissions: [] },
      });
      expect(answer.json().device).toBeNull();
    });

    it('a proof of an earlier CLI (no @authority) is accepted until the cut-over, refused after', async () => {
      const legacy = (body: string) => ({
        method: 'POST',
        url: SERVICE_URL,
        headers: {
          'x-api-key': client.key,
          'x-sekuire-device': FP_A,
          ...legacySigned(h.deviceKey(FP_A), 'POST', SERVICE_URL, body, h.now().getTime()),
        },
      });
      expect((await verify({ request: legacy('{}') })).json().valid).toBe(true);
      h.advance(60_000);
      expect((await verify({ request: legacy('{}') })).json()).toEqual({
        valid: false,
        code: 'invalid_proof',
        message:
          'The device proof does not cover "@authority": proofs of earlier CLIs are no longer accepted. Update the sekuire CLI.',
      });
    });
  });

  describe('refusals: 200 {valid: false, code, message}', () => {
    it('a nonce is accepted once, whether shown to /verify or to the server API first', async () => {
      const request = serviceRequest();
      expect((await verify({ request })).json().valid).toBe(true);
      expect((await verify({ request })).json()).toEqual({
        valid: false,
        code: 'proof_replayed',
        message: 'This device proof was already used: each request needs a new one.',
      });
      // A proof for the server's own API, shown to /verify first, is refused by the API after.
      const status = serviceRequest({ method: 'GET', url: 'http://localhost/api/v1/cli/status', body: '' });
      expect((await verify({ request: status })).json().valid).toBe(true);
      const replayed = await h.inject({ method: 'GET', url: '/api/v1/cli/status', headers: status.headers });
      expect(replayed.statusCode).toBe(401);
      expect(replayed.json().error).toBe('proof_replayed');
      // And the other way round.
      const fresh = serviceRequest({ method: 'GET', url: 'http://localhost/api/v1/cli/status', body: '' });
      expect(
        (await h.inject({ method: 'GET', url: '/api/v1/cli/status', headers: fresh.headers })).statusCode,
      ).toBe(200);
      expect((await verify({ request: fresh })).json().code).toBe('proof_replayed');
    });

    it('a proof for another URL, method or body digest does not verify', async () => {
      const signedFor = serviceRequest();
      const cases = [
        { ...signedFor, url: 'https://other.example/deploy?env=prod' },
        { ...signedFor, url: 'https://deploy.acme.example/deploy?env=dev' },
        { ...signedFor, method: 'PUT' },
        { ...signedFor, headers: { ...signedFor.headers, 'Content-Digest': `sha-256=:${'A'.repeat(43)}=:` } },
      ];
      for (const request of cases) {
        expect((await verify({ request })).json(), JSON.stringify(request).slice(0, 80)).toEqual({
          valid: false,
          code: 'invalid_proof',
          message: 'The device proof does not verify with the key this binding holds.',
        });
      }
      const { Signature: _s, 'Signature-Input': _i, ...unsigned } = signedFor.headers;
      expect((await verify({ request: { ...signedFor, headers: unsigned } })).json().code).toBe(
        'proof_required',
      );
      h.advance(301_000);
      expect((await verify({ request: serviceRequest({}) })).json().valid).toBe(true);
      expect((await verify({ request: signedFor })).json().code).toBe('proof_stale');
    });

    it('another device, a revoked or expired key, a missing permission', async () => {
      expect((await verify({ request: serviceRequest({ fingerprint: FP_B }) })).json()).toMatchObject({
        valid: false,
        code: 'device_mismatch',
      });
      expect(
        (
          await verify({
            request: serviceRequest(),
            required_permissions: ['deploy:write', 'billing:read', 'x'],
          })
        ).json(),
      ).toEqual({
        valid: false,
        code: 'forbidden',
        message: 'This API key lacks the permissions billing:read, x.',
      });
      const expired = await h.createKey({
        email: 'old@acme.example',
        organization: 'Acme',
        type: 'server',
        expiresInDays: 0,
      });
      expect(
        (
          await verify({
            request: { method: 'GET', url: SERVICE_URL, headers: { 'x-api-key': expired.apiKey.value } },
          })
        ).json(),
      ).toEqual({
        valid: false,
        code: 'key_expired',
        message: `This API key expired at ${T0.toISOString()}.`,
      });
      const { revokeApiKey } = await import('../../packages/server/src/domain/keys.js');
      await revokeApiKey(h.store, client.id, h.now());
      expect((await verify({ request: serviceRequest() })).json()).toEqual({
        valid: false,
        code: 'key_revoked',
        message: 'This API key has been revoked.',
      });
    });

    it("another organization's key, valid, revoked or malformed, gets exactly the unknown key's answer", async () => {
      const other = await h.createKey({ email: 'eve@other.example', organization: 'Other', type: 'server' });
      const gone = await h.createKey({ email: 'eve@other.example', organization: 'Other', type: 'server' });
      const { revokeApiKey } = await import('../../packages/server/src/domain/keys.js');
      await revokeApiKey(h.store, gone.key.id, h.now());
      for (const key of [
        other.apiKey.value,
        gone.apiKey.value,
        'sk_test_nope',
        // The client's key with its last character changed (to one it is not).
        `${client.key.slice(0, -1)}${client.key.endsWith('x') ? 'y' : 'x'}`,
      ]) {
        const answer = await verify({
          request: { method: 'GET', url: SERVICE_URL, headers: { 'x-api-key': key } },
        });
        expect(answer.statusCode).toBe(200);
        expect(answer.json(), key.slice(0, 12)).toEqual(UNKNOWN);
      }
      expect((await verify({ request: { method: 'GET', url: SERVICE_URL, headers: {} } })).json()).toEqual(
        UNKNOWN,
      );
    });
  });

  describe('the caller', () => {
    it('needs a server key with verify: 401 without a key, 403 for any other', async () => {
      const request = serviceRequest();
      const none = await verify({ request }, null);
      expect(none.statusCode).toBe(401);
      expect(none.json().error).toBe('invalid_key');
      const plain = await h.createKey({ email: 'svc@acme.example', organization: 'Acme', type: 'server' });
      const clientWithVerify = await h.createKey({
        email: 'svc@acme.example',
        organization: 'Acme',
        permissions: ['verify'],
      });
      for (const key of [plain.apiKey.value, clientWithVerify.apiKey.value]) {
        const refused = await verify({ request }, key);
        expect(refused.statusCode).toBe(403);
        expect(refused.json()).toEqual({
          error: 'forbidden',
          message:
            'Only a server key with the verify permission may call /api/v1/verify: create one with sekuire-server create-key --type server --permission verify.',
        });
      }
      // None of those refusals used the proof: it still verifies once.
      expect((await verify({ request })).json().valid).toBe(true);
    });

    it('a body not of this shape is 400 naming the field', async () => {
      const good = serviceRequest();
      const cases: [unknown, string][] = [
        [[], 'body'],
        [{}, 'request'],
        [{ request: { ...good, method: 'GET /' } }, 'request.method'],
        [{ request: { ...good, url: '/deploy' } }, 'request.url'],
        [{ request: { ...good, url: 'ftp://x.example/' } }, 'request.url'],
        [{ request: { ...good, headers: 'x' } }, 'request.headers'],
        [{ request: { ...good, headers: { 'x-api-key': 7 } } }, 'request.headers'],
        [{ request: good, required_permissions: 'deploy:write' }, 'required_permissions'],
        [{ request: good, required_permissions: ['Deploy'] }, 'required_permissions'],
      ];
      for (const [payload, field] of cases) {
        const answer = await verify(payload);
        expect(answer.statusCode, field).toBe(400);
        expect(answer.json().field).toBe(field);
      }
    });
  });
});

describeOnPostgres('one replay cache for /verify and the API, on every instance', () => {
  it('a proof accepted by /verify on one instance is refused by the API and by /verify on the other', async () => {
    const h = await harness({ engine: 'postgres' });
    const otherStore = await openStore(h.target, { mustExist: true });
    const other = await buildApp({
      store: otherStore,
      secret: h.secret,
      now: () => h.now(),
      logError: (message) => h.logged.push(message),
      passwordCost: TEST_PASSWORD_COST,
      publicUrls: ['http://localhost'],
    });
    try {
      await other.ready();
      const verifyKey = (
        await h.createKey({
          email: 'svc@acme.example',
          organization: 'Acme',
          type: 'server',
          permissions: ['verify'],
        })
      ).apiKey.value;
      const client = (await h.createKey({ email: 'dev@acme.example', organization: 'Acme' })).apiKey.value;
      expect((await h.login(client, FP_A)).statusCode).toBe(200);
      const url = 'http://localhost/api/v1/cli/status';
      const headers = {
        'x-api-key': client,
        'x-sekuire-device': FP_A,
        ...signed(h.deviceKey(FP_A), 'GET', url, undefined, h.now().getTime()),
      };
      const verifyOn = (app: FastifyInstance) =>
        app.inject({
          method: 'POST',
          url: '/api/v1/verify',
          headers: { 'content-type': 'application/json', 'x-api-key': verifyKey },
          payload: JSON.stringify({ request: { method: 'GET', url, headers } }),
        });
      expect((await verifyOn(h.app)).json().valid).toBe(true);
      const api = await other.inject({ method: 'GET', url: '/api/v1/cli/status', headers });
      expect(api.statusCode).toBe(401);
      expect(api.json().error).toBe('proof_replayed');
      expect((await verifyOn(other)).json()).toEqual({
        valid: false,
        code: 'proof_replayed',
        message: 'This device proof was already used: each request needs a new one.',
      });
    } finally {
      await other.close();
      await otherStore.close();
      expect(h.logged).toEqual([]);
      await h.close();
    }
  });
});
