// sekuire-verify against the real server: the Fastify plugin and the node:http middleware, a key
// bound to a device, requests signed by the CLI's own code, permissions, and revocation.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import { requirePermission, sekuireVerify, verifyMiddleware } from '../../packages/verify/src/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { bindDevice, FINGERPRINT, send, signedRequest } from '../helpers/service-client.js';

let server: TestServer;
let verifyKey: string;
let client: { key: string; id: string };
let device: DeviceKey;
let app: FastifyInstance;
let base: string;

const DEPLOY_BODY = '{"ref":"main"}';

beforeAll(async () => {
  server = await startServer();
  verifyKey = (
    await server.createKey({
      email: 'svc@acme.example',
      org: 'Acme',
      type: 'server',
      permissions: ['verify'],
    })
  ).key;
  client = await server.createKey({ email: 'dev@acme.example', org: 'Acme', permissions: ['deploy:write'] });
  device = await bindDevice(server.url, client.key);

  app = fastify();
  // Registered before the plugin: not protected.
  app.get('/health', async () => ({ ok: true }));
  await app.register(sekuireVerify, { server: server.url, key: verifyKey });
  app.get('/whoami', async (request) => request.sekuire);
  app.post('/deploy', { preHandler: requirePermission('deploy:write') }, async (request) => ({
    deployed: request.body,
    by: request.sekuire?.user.email,
  }));
  app.post('/billing', { preHandler: requirePermission('billing:write') }, async () => ({ billed: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await server?.stop();
});

describe('the Fastify plugin', () => {
  it('a signed request reaches the route with the verified identity', async () => {
    const answer = await signedRequest(new URL('/whoami', base), 'GET', client.key, device);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      key: { id: client.id, environment: 'test', type: 'client', permissions: ['deploy:write'] },
      user: { id: expect.stringMatching(/^user_/), email: 'dev@acme.example' },
      organization: { id: expect.stringMatching(/^org_/), name: 'Acme' },
      workspace: { id: expect.stringMatching(/^ws_/), name: 'Default' },
      device: { id: expect.stringMatching(/^dev_/), name: 'ada-laptop', fingerprint: FINGERPRINT },
    });
  });

  it('a body is checked against Content-Digest; the route gets it parsed', async () => {
    const url = new URL('/deploy', base);
    expect(await signedRequest(url, 'POST', client.key, device, DEPLOY_BODY)).toEqual({
      status: 200,
      body: { deployed: { ref: 'main' }, by: 'dev@acme.example' },
    });
    const { proofHeaders } = await import('../../packages/cli/src/core/proof.js');
    const headers = {
      'x-api-key': client.key,
      'x-sekuire-device': FINGERPRINT,
      'content-type': 'application/json',
      ...proofHeaders(device, 'POST', url, DEPLOY_BODY, Date.now() / 1000),
    };
    expect(await send(url, 'POST', headers, '{"ref":"evil"}')).toEqual({
      status: 401,
      body: {
        error: 'invalid_proof',
        message: 'The Content-Digest header does not match the body received.',
      },
    });
  });

  it('refusals: 401 with the protocol codes, 403 for a missing permission; a route before the plugin is open', async () => {
    const whoami = new URL('/whoami', base);
    expect(await send(whoami, 'GET', {})).toEqual({
      status: 401,
      body: { error: 'invalid_key', message: 'Invalid API key' },
    });
    expect((await signedRequest(whoami, 'GET', client.key, undefined)).body).toMatchObject({
      error: 'proof_required',
    });
    expect(
      (await signedRequest(whoami, 'GET', client.key, device, undefined, 'e'.repeat(64))).body,
    ).toMatchObject({
      error: 'device_mismatch',
    });
    expect(await signedRequest(new URL('/billing', base), 'POST', client.key, device, '{}')).toEqual({
      status: 403,
      body: { error: 'forbidden', message: 'This API key lacks the permission billing:write.' },
    });
    // Signed for another host: the service names its URL as it was reached.
    const { proofHeaders } = await import('../../packages/cli/src/core/proof.js');
    const forOther = proofHeaders(
      device,
      'GET',
      new URL('http://other.example/whoami'),
      undefined,
      Date.now() / 1000,
    );
    expect(
      (await send(whoami, 'GET', { 'x-api-key': client.key, 'x-sekuire-device': FINGERPRINT, ...forOther }))
        .body,
    ).toMatchObject({ error: 'invalid_proof' });
    const other = await server.createKey({ email: 'eve@other.example', org: 'Other', type: 'server' });
    expect(await send(whoami, 'GET', { 'x-api-key': other.key })).toEqual({
      status: 401,
      body: { error: 'invalid_key', message: 'Invalid API key' },
    });
    expect(await send(new URL('/health', base), 'GET', {})).toEqual({ status: 200, body: { ok: true } });
  });

  it('a proof is used once', async () => {
    const url = new URL('/whoami', base);
    const { proofHeaders } = await import('../../packages/cli/src/core/proof.js');
    const headers = {
      'x-api-key': client.key,
      'x-sekuire-device': FINGERPRINT,
      ...proofHeaders(device, 'GET', url, undefined, Date.now() / 1000),
    };
    expect((await send(url, 'GET', headers)).status).toBe(200);
    expect(await send(url, 'GET', headers)).toEqual({
      status: 401,
      body: {
        error: 'proof_replayed',
        message: 'This device proof was already used: each request needs a new one.',
      },
    });
  });

  it('the Sekuire server unreachable: 503, never a pass', async () => {
    const lonely = fastify();
    await lonely.register(sekuireVerify, { server: 'http://127.0.0.1:9', key: verifyKey, timeoutMs: 2000 });
    lonely.get('/x', async () => ({ reached: true }));
    const answer = await lonely.inject({ method: 'GET', url: '/x', headers: { 'x-api-key': client.key } });
    expect(answer.statusCode).toBe(503);
    expect(answer.json()).toEqual({
      error: 'service_unavailable',
      message: 'The request cannot be verified now: the Sekuire server did not answer.',
    });
    await lonely.close();
  });

  it('with origin named, a request addressed to another Host is refused', async () => {
    const named = fastify();
    await named.register(sekuireVerify, {
      server: server.url,
      key: verifyKey,
      origin: 'https://deploy.acme.example',
    });
    named.get('/x', async (request) => ({ user: request.sekuire?.user.email }));
    await named.listen({ host: '127.0.0.1', port: 0 });
    const port = (named.server.address() as AddressInfo).port;
    const { proofHeaders } = await import('../../packages/cli/src/core/proof.js');
    const publicUrl = new URL('https://deploy.acme.example/x');
    const headers = (host: string) => ({
      host,
      'x-api-key': client.key,
      'x-sekuire-device': FINGERPRINT,
      ...proofHeaders(device, 'GET', publicUrl, undefined, Date.now() / 1000),
    });
    const direct = new URL(`http://127.0.0.1:${port}/x`);
    expect(await send(direct, 'GET', headers('deploy.acme.example'))).toEqual({
      status: 200,
      body: { user: 'dev@acme.example' },
    });
    expect(await send(direct, 'GET', headers(`127.0.0.1:${port}`))).toEqual({
      status: 401,
      body: {
        error: 'invalid_proof',
        message: 'The request is addressed to a host this service does not serve.',
      },
    });
    await named.close();
  });
});

describe('the (req, res, next) middleware on node:http', () => {
  let plain: Server;
  let plainBase: string;
  beforeAll(async () => {
    const verified = verifyMiddleware({ server: server.url, key: verifyKey });
    const deploy = requirePermission('deploy:write');
    plain = createServer((req: IncomingMessage, res: ServerResponse) => {
      verified(req, res, (error) => {
        if (error !== undefined) {
          res.statusCode = 500;
          res.end();
          return;
        }
        deploy(req, res, () => {
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              by: req.sekuire?.user.email,
              body: (req as IncomingMessage & { body?: unknown }).body ?? null,
              raw: req.rawBody?.toString('utf8'),
            }),
          );
        });
      });
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    plainBase = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => plain.close(resolve));
  });

  it('verifies, parses a JSON body, and checks permissions', async () => {
    expect(
      await signedRequest(new URL('/deploy', plainBase), 'POST', client.key, device, DEPLOY_BODY),
    ).toEqual({
      status: 200,
      body: { by: 'dev@acme.example', body: { ref: 'main' }, raw: DEPLOY_BODY },
    });
    expect(
      await send(new URL('/deploy', plainBase), 'POST', { 'content-type': 'application/json' }, '{}'),
    ).toEqual({
      status: 401,
      body: { error: 'invalid_key', message: 'Invalid API key' },
    });
    const reader = await server.createKey({
      email: 'ro@acme.example',
      org: 'Acme',
      type: 'server',
      permissions: ['deploy:read'],
    });
    expect(await send(new URL('/deploy', plainBase), 'GET', { 'x-api-key': reader.key })).toEqual({
      status: 403,
      body: { error: 'forbidden', message: 'This API key lacks the permission deploy:write.' },
    });
  });
});

describe('revocation', () => {
  it('revoke-key returns, and the next request through the plugin is refused', async () => {
    const doomed = await server.createKey({
      email: 'dev@acme.example',
      org: 'Acme',
      permissions: ['deploy:write'],
    });
    const doomedDevice = await bindDevice(server.url, doomed.key, 'd'.repeat(64));
    const url = new URL('/whoami', base);
    expect(
      (await signedRequest(url, 'GET', doomed.key, doomedDevice, undefined, 'd'.repeat(64))).status,
    ).toBe(200);
    await server.revokeKey(doomed.id);
    expect(await signedRequest(url, 'GET', doomed.key, doomedDevice, undefined, 'd'.repeat(64))).toEqual({
      status: 401,
      body: { error: 'key_revoked', message: 'This API key has been revoked.' },
    });
  });
});
