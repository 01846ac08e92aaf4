// Device proof on the server: proof_required, invalid_proof, proof_replayed, proof_stale, the replay cache, logins, grants.
import { createECDH, createHash } from 'node:crypto';
import { contentDigest } from '@sekuire/shared/proof-format';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decideDeviceGrant, pendingDeviceGrant } from '../../packages/server/src/domain/cli-grants.js';
import { KEY_DEFAULTS } from '../../packages/server/src/domain/keys.js';
import { splitTarget } from '../../packages/server/src/domain/proofs.js';
import { buildApp } from '../../packages/server/src/http/app.js';
import { openStore } from '../../packages/server/src/store/open.js';
import type { Store } from '../../packages/server/src/store/store.js';
import { memoryDeviceKey, signed } from '../helpers/device-keys.js';
import { describeOnPostgres, forEachEngine } from '../helpers/engines.js';
import {
  deviceBody,
  FP_A,
  FP_B,
  FP_C,
  type Harness,
  type HarnessOptions,
  harness,
  T0,
  TEST_PASSWORD_COST,
} from './harness.js';

const STATUS = '/api/v1/cli/status';
const WHOAMI = '/api/v1/cli/whoami';
const LOGOUT = '/api/v1/cli/logout';
const LOGIN = '/api/v1/cli/login';
const AT0 = T0.toISOString();
const at = (ms: number) => new Date(T0.getTime() + ms).toISOString();

const REQUIRED = {
  error: 'proof_required',
  message:
    "This key is bound to a device key: each request must carry that device's proof (Signature-Input, Signature and Content-Digest headers). Use a sekuire CLI that signs its requests.",
};
const MALFORMED = { error: 'invalid_proof', message: 'The device proof is malformed.' };
const OTHER_KEY = {
  error: 'invalid_proof',
  message: 'The device proof is signed by a key this binding does not hold.',
};
const DIGEST = {
  error: 'invalid_proof',
  message: 'The Content-Digest header does not match the body received.',
};
const BAD_SIGNATURE = {
  error: 'invalid_proof',
  message: 'The device proof does not verify with the key this binding holds.',
};
const REPLAYED = {
  error: 'proof_replayed',
  message: 'This device proof was already used: each request needs a new one.',
};
const PUBLIC_KEY_INVALID = {
  error: 'invalid_request',
  message:
    'device.public_key must be a P-256 public key as a JWK: {"kty":"EC","crv":"P-256","x":…,"y":…} (never the private part).',
  field: 'device.public_key',
};
const PUBLIC_KEY_REQUIRED = {
  error: 'invalid_request',
  message:
    'device.public_key is required: a new key is bound to the device key that signs this request. Update the sekuire CLI.',
  field: 'device.public_key',
};
const LOGIN_NEEDS_KEY = {
  error: 'proof_required',
  message:
    'This backend binds keys to a device key: the login must send device.public_key and be signed with it. Update the sekuire CLI.',
};

function staleBody(seconds: number, serverTime: string) {
  const side = seconds < 0 ? `${-seconds} seconds before` : `${seconds} seconds after`;
  return {
    error: 'proof_stale',
    message: `The device proof was created ${side} the server's time: the window is 300 seconds either way.`,
    server_time: serverTime,
  };
}

interface Sent {
  readonly method?: 'GET' | 'POST' | 'HEAD';
  readonly url: string;
  readonly key?: string;
  readonly fingerprint?: string;
  /** Proof headers (or anything else) as given: nothing is signed here. */
  readonly headers?: Record<string, string>;
  readonly payload?: string;
  readonly remoteAddress?: string;
}

forEachEngine((engine) => {
  let h: Harness;
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });
  const start = async (options: HarnessOptions = {}) => {
    h = await harness({ engine, ...options });
  };

  /** One request exactly as described: the test decides every header. */
  function send(request: Sent): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { ...request.headers };
    if (request.key !== undefined) headers['x-api-key'] = request.key;
    if (request.fingerprint !== undefined) headers['x-sekuire-device'] = request.fingerprint;
    if (request.payload !== undefined) headers['content-type'] = 'application/json';
    return h.inject({
      method: request.method ?? 'GET',
      url: request.url,
      headers,
      ...(request.payload !== undefined && { payload: request.payload }),
      ...(request.remoteAddress !== undefined && { remoteAddress: request.remoteAddress }),
    });
  }

  /** A request signed by FP_A's device key, as the CLI sends it. */
  function signedAsA(key: string, method: 'GET' | 'POST', url: string, payload?: string) {
    return send({
      method,
      url,
      key,
      fingerprint: FP_A,
      headers: h.sign(h.deviceKey(FP_A), method, url, payload),
      ...(payload !== undefined && { payload }),
    });
  }

  /** A key bound to FP_A (with FP_A's device key). */
  async function boundKey(email = 'dev@example.com') {
    const created = await h.createKey({ email });
    const login = await h.login(created.apiKey.value, FP_A);
    expect(login.statusCode).toBe(200);
    return { key: created.apiKey.value, keyId: created.key.id, created };
  }

  const deviceRows = (keyId: string) =>
    h.sql.all<{ fingerprint: string; public_key: string | null; key_thumbprint: string | null }>(
      'SELECT fingerprint, public_key, key_thumbprint FROM devices WHERE key_id = ? ORDER BY bound_at, id',
      [keyId],
    );

  describe('a request without a proof', () => {
    beforeEach(() => start());

    it.each([
      ['GET', STATUS],
      ['GET', WHOAMI],
      ['POST', LOGOUT],
    ] as const)('%s %s with the key and the bound fingerprint -> 401 proof_required', async (method, url) => {
      const { key, keyId } = await boundKey();
      const response = await send({ method, url, key, fingerprint: FP_A });
      expect(response.statusCode).toBe(401);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.json()).toEqual(REQUIRED);
      // The binding is untouched (an unsigned logout unbinds nothing) and the device goes on working.
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
      const real = await signedAsA(key, method, url);
      expect(real.statusCode).toBe(200);
    });

    it('the real device keeps working between unsigned attempts', async () => {
      const { key } = await boundKey();
      for (let i = 0; i < 3; i++) {
        expect((await send({ url: STATUS, key, fingerprint: FP_A })).statusCode).toBe(401);
        const mine = await h.get(STATUS, key, FP_A);
        expect(mine.statusCode).toBe(200);
        expect(mine.json().device.key_thumbprint).toBe(h.deviceKey(FP_A).thumbprint);
      }
    });

    it('another fingerprint still gets 409 device_mismatch, proof or not', async () => {
      const { key } = await boundKey();
      const unsigned = await send({ url: STATUS, key, fingerprint: FP_B });
      expect(unsigned.statusCode).toBe(409);
      expect(unsigned.json().error).toBe('device_mismatch');
      expect((await h.get(STATUS, key, FP_B)).statusCode).toBe(409);
    });
  });

  describe('a wrong proof -> 401 invalid_proof', () => {
    beforeEach(() => start());

    it('signed by another device key', async () => {
      const { key } = await boundKey();
      const response = await send({
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: h.sign(memoryDeviceKey(), 'GET', STATUS),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(OTHER_KEY);
    });

    it("signed by another device key but naming the binding's keyid", async () => {
      const { key } = await boundKey();
      const forged = h.sign(memoryDeviceKey(), 'GET', STATUS);
      const input = (forged['Signature-Input'] as string).replace(
        /keyid="[^"]+"/,
        `keyid="${h.deviceKey(FP_A).thumbprint}"`,
      );
      const response = await send({
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: { ...forged, 'Signature-Input': input },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(BAD_SIGNATURE);
    });

    it('the body changed after signing (the Content-Digest still of the signed body)', async () => {
      const { key, keyId } = await boundKey();
      const proof = h.sign(h.deviceKey(FP_A), 'POST', LOGOUT, '{}');
      const response = await send({
        method: 'POST',
        url: LOGOUT,
        key,
        fingerprint: FP_A,
        headers: proof,
        payload: '{"all":true}',
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(DIGEST);
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
    });

    it('the body and its Content-Digest both changed after signing', async () => {
      const { key, keyId } = await boundKey();
      const payload = '{"all":true}';
      const proof = h.sign(h.deviceKey(FP_A), 'POST', LOGOUT, '{}');
      // A Content-Digest that matches the new body: the signature covers the old one.
      const honestDigest = contentDigest(payload);
      const response = await send({
        method: 'POST',
        url: LOGOUT,
        key,
        fingerprint: FP_A,
        headers: { ...proof, 'Content-Digest': honestDigest },
        payload,
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(BAD_SIGNATURE);
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
    });

    it('another path: a proof for /status sent to /whoami', async () => {
      const { key } = await boundKey();
      const response = await send({
        url: WHOAMI,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', STATUS),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(BAD_SIGNATURE);
    });

    it('a query added after signing', async () => {
      const { key } = await boundKey();
      const response = await send({
        url: `${STATUS}?x=1`,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', STATUS),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(BAD_SIGNATURE);
    });

    it('a query changed or dropped after signing (a signed query is accepted as signed)', async () => {
      const { key } = await boundKey();
      const changed = await send({
        url: `${STATUS}?x=2`,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', `${STATUS}?x=1`),
      });
      expect(changed.json()).toEqual(BAD_SIGNATURE);
      const dropped = await send({
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', `${STATUS}?x=1`),
      });
      expect(dropped.json()).toEqual(BAD_SIGNATURE);
      const asSigned = await send({
        url: `${STATUS}?x=1`,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', `${STATUS}?x=1`),
      });
      expect(asSigned.statusCode).toBe(200);
    });

    it('another method: a GET proof on POST /logout', async () => {
      const { key, keyId } = await boundKey();
      const response = await send({
        method: 'POST',
        url: LOGOUT,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', LOGOUT),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(BAD_SIGNATURE);
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
    });

    const mutations: [string, (headers: Record<string, string>) => Record<string, string>][] = [
      ['no Signature-Input', ({ 'Signature-Input': _, ...rest }) => rest],
      ['no Signature', ({ Signature: _, ...rest }) => rest],
      [
        'another label',
        (headers) => ({
          ...headers,
          'Signature-Input': (headers['Signature-Input'] as string).replace(/^sekuire=/, 'sig1='),
          Signature: (headers.Signature as string).replace(/^sekuire=/, 'sig1='),
        }),
      ],
      [
        'another algorithm',
        (headers) => ({
          ...headers,
          'Signature-Input': (headers['Signature-Input'] as string).replace(
            'alg="ecdsa-p256-sha256"',
            'alg="ed25519"',
          ),
        }),
      ],
      [
        'the components in another order',
        (headers) => ({
          ...headers,
          'Signature-Input': (headers['Signature-Input'] as string).replace(
            '("@method" "@authority"',
            '("@authority" "@method"',
          ),
        }),
      ],
      [
        'fewer components',
        (headers) => ({
          ...headers,
          'Signature-Input': (headers['Signature-Input'] as string).replace(' "content-digest"', ''),
        }),
      ],
      [
        'a nonce of 8 characters',
        (headers) => ({
          ...headers,
          'Signature-Input': (headers['Signature-Input'] as string).replace(
            /nonce="[^"]+"/,
            'nonce="abcdefgh"',
          ),
        }),
      ],
      [
        'no created',
        (headers) => ({
          ...headers,
          'Signature-Input': (headers['Signature-Input'] as string).replace(/;created=\d+/, ''),
        }),
      ],
      [
        'an extra parameter',
        (headers) => ({ ...headers, 'Signature-Input': `${headers['Signature-Input']};expires=1999999999` }),
      ],
      ['a signature too short', (headers) => ({ ...headers, Signature: 'sekuire=:AAAA:' })],
      [
        'a signature without its colons',
        (headers) => ({ ...headers, Signature: (headers.Signature as string).replace(/:/g, '') }),
      ],
      ['garbage', (headers) => ({ ...headers, 'Signature-Input': 'garbage', Signature: 'garbage' })],
    ];

    it.each(mutations)('malformed: %s', async (_name, mutate) => {
      const { key } = await boundKey();
      const response = await send({
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: mutate(h.sign(h.deviceKey(FP_A), 'GET', STATUS)),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(MALFORMED);
    });

    it.each([
      ['missing', undefined],
      ['of another body', contentDigest('{}')],
      ['with another algorithm', `sha-512=:${createHash('sha512').update('').digest('base64')}:`],
      ['in lowercase', contentDigest('').toLowerCase()],
      ['empty', ''],
    ])('a Content-Digest %s', async (_name, digest) => {
      const { key } = await boundKey();
      const { 'Content-Digest': _, ...proof } = h.sign(h.deviceKey(FP_A), 'GET', STATUS);
      const response = await send({
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: digest === undefined ? proof : { ...proof, 'Content-Digest': digest },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(DIGEST);
    });
  });

  describe('replays', () => {
    beforeEach(() => start());

    it('a recorded request sent again -> 401 proof_replayed; fresh requests keep working', async () => {
      const { key } = await boundKey();
      const recorded: Sent = {
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', STATUS),
      };
      expect((await send(recorded)).statusCode).toBe(200);
      for (let i = 0; i < 2; i++) {
        const replayed = await send(recorded);
        expect(replayed.statusCode).toBe(401);
        expect(replayed.json()).toEqual(REPLAYED);
        expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(200);
      }
      // Later in the window, still refused.
      h.advance(299_000);
      expect((await send(recorded)).json()).toEqual(REPLAYED);
    });

    it('a restart does not forget: a proof recorded before it is refused after it (L2)', async () => {
      const { key } = await boundKey();
      const recorded: Sent = {
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', STATUS),
      };
      expect((await send(recorded)).statusCode).toBe(200);
      // The server again, as after a restart: a store of its own on the same database, nothing
      // in memory. (On SQLite this is also another process on the same file.)
      const store = await openStore(h.target);
      // Addressed as the harness's app is (in-process requests name localhost).
      const restarted = await buildApp({
        store,
        secret: h.secret,
        now: () => h.now(),
        publicUrls: ['http://localhost'],
      });
      try {
        const replay = (headers: Record<string, string>) =>
          restarted.inject({
            method: 'GET',
            url: STATUS,
            headers: { ...headers, 'x-api-key': key, 'x-sekuire-device': FP_A },
          });
        h.advance(10_000);
        const replayed = await replay(recorded.headers ?? {});
        expect(replayed.statusCode).toBe(401);
        expect(replayed.json()).toEqual(REPLAYED);
        // A fresh proof is accepted by the restarted server, and only once by either.
        const fresh = h.sign(h.deviceKey(FP_A), 'GET', STATUS);
        expect((await replay(fresh)).statusCode).toBe(200);
        expect((await send({ url: STATUS, key, fingerprint: FP_A, headers: fresh })).json()).toEqual(
          REPLAYED,
        );
      } finally {
        await restarted.close();
        await store.close();
      }
    });

    it('a recorded logout replayed after logging in again does not unbind', async () => {
      const { key, keyId } = await boundKey();
      const logout: Sent = {
        method: 'POST',
        url: LOGOUT,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'POST', LOGOUT),
      };
      expect((await send(logout)).json()).toEqual({ unbound: true });
      h.advance(1_000);
      expect((await h.login(key, FP_A)).statusCode).toBe(200);
      const replayed = await send(logout);
      expect(replayed.statusCode).toBe(401);
      expect(replayed.json()).toEqual(REPLAYED);
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
    });

    it('a recorded login sent again -> 401 proof_replayed, and no second refresh', async () => {
      const created = await h.createKey();
      const device = h.deviceKey(FP_A);
      const body = deviceBody(FP_A);
      const payload = JSON.stringify({ ...body, device: { ...body.device, public_key: device.publicJwk } });
      const recorded: Sent = {
        method: 'POST',
        url: LOGIN,
        key: created.apiKey.value,
        headers: h.sign(device, 'POST', LOGIN, payload),
        payload,
      };
      expect((await send(recorded)).statusCode).toBe(200);
      const again = await send(recorded);
      expect(again.statusCode).toBe(401);
      expect(again.json()).toEqual(REPLAYED);
      const events = (await h.store.read.audit.list(created.key.id)).map((event) => event.event);
      expect(events).toEqual(['create', 'bind', 'proof_refused']);
    });
  });

  describe('stale proofs', () => {
    beforeEach(() => start());

    it.each([
      [-301, 'in the past'],
      [301, 'in the future'],
    ])('created %i s from the server time (%s) -> 401 proof_stale with server_time', async (offset) => {
      const { key } = await boundKey();
      h.advance(10_000);
      const now = h.now().getTime();
      const response = await send({
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: signed(h.deviceKey(FP_A), 'GET', STATUS, undefined, now + offset * 1000),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(staleBody(offset, at(10_000)));
    });

    it.each([[-300], [300]])('created %i s from the server time is still accepted', async (offset) => {
      const { key } = await boundKey();
      const response = await send({
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: signed(h.deviceKey(FP_A), 'GET', STATUS, undefined, h.now().getTime() + offset * 1000),
      });
      expect(response.statusCode).toBe(200);
    });

    it('a proof held back past the window is stale, even if never used', async () => {
      const { key } = await boundKey();
      const held: Sent = {
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', STATUS),
      };
      h.advance(300_000);
      h.advance(1_000);
      const response = await send(held);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(staleBody(-301, at(301_000)));
    });

    it('a used proof is refused as stale once the window is over (not accepted again)', async () => {
      const { key } = await boundKey();
      const recorded: Sent = {
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', STATUS),
      };
      expect((await send(recorded)).statusCode).toBe(200);
      h.advance(301_000);
      // A fresh request lets the cache drop its expired entries first.
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(200);
      expect((await send(recorded)).json().error).toBe('proof_stale');
    });
  });

  describe('the bounded replay cache', () => {
    it('past its capacity, an early proof replayed is refused, and fresh requests still work', async () => {
      // A failure limit high enough for the 41 replays below.
      await start({ replayCapacity: 20, failureLimit: { max: 100, globalMax: 600, windowMs: 60_000 } });
      const { key } = await boundKey();
      h.advance(1_000);
      const first: Sent = {
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', STATUS),
      };
      expect((await send(first)).statusCode).toBe(200);
      const recent: Sent[] = [];
      for (let i = 0; i < 40; i++) {
        h.advance(1_000);
        const request: Sent = {
          url: STATUS,
          key,
          fingerprint: FP_A,
          headers: h.sign(h.deviceKey(FP_A), 'GET', STATUS),
        };
        expect((await send(request)).statusCode).toBe(200);
        recent.push(request);
      }
      // The first proof is within the window (41 s old) but forgotten: refused, never accepted.
      const replayedFirst = await send(first);
      expect(replayedFirst.statusCode).toBe(401);
      expect(replayedFirst.json()).toEqual({
        error: 'proof_stale',
        message: 'The device proof is older than the replay cache still covers: sign again.',
        server_time: at(41_000),
      });
      // Every one of them replayed is refused, one way or the other.
      for (const request of recent) {
        const replayed = await send(request);
        expect(replayed.statusCode).toBe(401);
        expect(['proof_stale', 'proof_replayed']).toContain(replayed.json().error);
      }
      expect((await send(recent.at(-1) as Sent)).json()).toEqual(REPLAYED);
      h.advance(1_000);
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(200);
      expect((await h.get(WHOAMI, key, FP_A)).statusCode).toBe(200);
    });

    it('a device whose clock is 299 s ahead does not lock the others out once the cache is full', async () => {
      await start({ replayCapacity: 20 });
      const { key } = await boundKey();
      const other = await h.createKey({ email: 'skewed@example.com' });
      expect((await h.login(other.apiKey.value, FP_B)).statusCode).toBe(200);
      // Within the window, so accepted: a clock that is ahead by less than five minutes.
      const ahead = await send({
        url: STATUS,
        key: other.apiKey.value,
        fingerprint: FP_B,
        headers: signed(h.deviceKey(FP_B), 'GET', STATUS, undefined, h.now().getTime() + 299_000),
      });
      expect(ahead.statusCode).toBe(200);
      // Each answer as its status, or its error code when refused.
      const answers: (number | string)[] = [];
      for (let i = 0; i < 40; i++) {
        h.advance(1_000);
        const response = await h.get(STATUS, key, FP_A);
        answers.push(response.statusCode === 200 ? 200 : response.json().error);
      }
      expect(answers).toEqual(Array(40).fill(200));
    });
  });

  describe('refusals count as failed checks and are audited', () => {
    it('invalid proofs from one address end in 429 with Retry-After; the real device and other addresses are unaffected', async () => {
      await start({ failureLimit: { max: 3, globalMax: 600, windowMs: 60_000 } });
      const { key } = await boundKey();
      const wrong = () =>
        send({ url: STATUS, key, fingerprint: FP_A, headers: h.sign(memoryDeviceKey(), 'GET', STATUS) });
      for (let i = 0; i < 3; i++) {
        const refused = await wrong();
        expect(refused.statusCode).toBe(401);
        expect(refused.json()).toEqual(OTHER_KEY);
      }
      for (let i = 0; i < 2; i++) {
        const limited = await wrong();
        expect(limited.statusCode).toBe(429);
        expect(limited.headers['retry-after']).toBe('60');
        expect(limited.json()).toEqual({
          error: 'rate_limited',
          message: 'Too many failed checks from this address; retry in 60 seconds.',
        });
      }
      // Unsigned requests count too, and are limited the same way.
      expect((await send({ url: STATUS, key, fingerprint: FP_A })).statusCode).toBe(429);
      // The device holding the key, from the same address, is answered normally.
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(200);
      // Another address has its own budget.
      const elsewhere = await send({
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: h.sign(memoryDeviceKey(), 'GET', STATUS),
        remoteAddress: '10.9.8.7',
      });
      expect(elsewhere.statusCode).toBe(401);
    });

    it('stale and replayed proofs count as failures too', async () => {
      await start({ failureLimit: { max: 2, globalMax: 600, windowMs: 60_000 } });
      const { key } = await boundKey();
      const recorded: Sent = {
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: h.sign(h.deviceKey(FP_A), 'GET', STATUS),
      };
      expect((await send(recorded)).statusCode).toBe(200);
      expect((await send(recorded)).statusCode).toBe(401);
      const stale = await send({
        url: STATUS,
        key,
        fingerprint: FP_A,
        headers: signed(h.deviceKey(FP_A), 'GET', STATUS, undefined, h.now().getTime() - 400_000),
      });
      expect(stale.statusCode).toBe(401);
      expect((await send(recorded)).statusCode).toBe(429);
    });

    it('a proof_refused audit event at most once per key and code a minute', async () => {
      await start();
      const { key, keyId } = await boundKey();
      const other = await h.createKey({ email: 'other@example.com' });
      expect((await h.login(other.apiKey.value, FP_B)).statusCode).toBe(200);
      const wrong = (apiKey: string, fingerprint: string, url = STATUS) =>
        send({ url, key: apiKey, fingerprint, headers: h.sign(memoryDeviceKey(), 'GET', url) });

      for (let i = 0; i < 3; i++) expect((await wrong(key, FP_A)).statusCode).toBe(401);
      expect((await send({ url: WHOAMI, key, fingerprint: FP_A })).statusCode).toBe(401);
      expect((await send({ url: STATUS, key, fingerprint: FP_A })).statusCode).toBe(401);
      // Another key has its own events.
      expect((await wrong(other.apiKey.value, FP_B)).statusCode).toBe(401);
      h.advance(59_999);
      expect((await wrong(key, FP_A)).statusCode).toBe(401);
      h.advance(1);
      expect((await wrong(key, FP_A, `${STATUS}?verbose=1`)).statusCode).toBe(401);

      const refusal = (when: string, code: string, path: string) => ({
        id: expect.any(Number),
        at: when,
        event: 'proof_refused',
        key_id: keyId,
        fingerprint: FP_A,
        device_name: null,
        client_ip: '127.0.0.1',
        actor_user_id: null,
        detail: { code, method: 'GET', path },
      });
      const events = await h.store.read.audit.list(keyId);
      expect(events.filter((event) => event.event === 'proof_refused')).toEqual([
        refusal(AT0, 'invalid_proof', STATUS),
        refusal(AT0, 'proof_required', WHOAMI),
        refusal(at(60_000), 'invalid_proof', STATUS),
      ]);
      const others = await h.store.read.audit.list(other.key.id);
      expect(others.filter((event) => event.event === 'proof_refused')).toHaveLength(1);
    });
  });

  describe('login', () => {
    beforeEach(() => start());

    it('an unbound key without device.public_key -> 401 proof_required, and no binding', async () => {
      const created = await h.createKey();
      const response = await h.post(LOGIN, deviceBody(FP_A), {
        headers: { 'x-api-key': created.apiKey.value },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(LOGIN_NEEDS_KEY);
      expect(await deviceRows(created.key.id)).toEqual([]);
      expect((await h.store.read.audit.list(created.key.id)).map((event) => event.event)).toEqual(['create']);
    });

    it('device.public_key without a proof -> 401 proof_required, and no binding', async () => {
      const created = await h.createKey();
      const body = deviceBody(FP_A);
      const response = await h.post(
        LOGIN,
        { ...body, device: { ...body.device, public_key: h.deviceKey(FP_A).publicJwk } },
        { headers: { 'x-api-key': created.apiKey.value } },
      );
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(REQUIRED);
      expect(await deviceRows(created.key.id)).toEqual([]);
    });

    // ECDH, not generateKeyPairSync + export: on Node 20 that export can hang (newP256Jwk says why).
    const p384Point = createECDH('secp384r1').generateKeys();
    const p384Jwk = {
      x: p384Point.subarray(1, 49).toString('base64url'),
      y: p384Point.subarray(49, 97).toString('base64url'),
    };
    const p256 = memoryDeviceKey();
    const p256Private = p256.privateKey.export({ format: 'jwk' });
    const malformed: [string, unknown][] = [
      ['a P-384 key', { kty: 'EC', crv: 'P-384', x: p384Jwk.x, y: p384Jwk.y }],
      ['a P-384 key labelled P-256', { kty: 'EC', crv: 'P-256', x: p384Jwk.x, y: p384Jwk.y }],
      ['the private key (with "d")', { ...p256.publicJwk, d: p256Private.d }],
      ['a point off the curve', { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43) }],
      ['y of another point', { ...p256.publicJwk, y: memoryDeviceKey().publicJwk.y }],
      ['an RSA key', { kty: 'RSA', n: 'AQAB', e: 'AQAB' }],
      ['a short x', { ...p256.publicJwk, x: p256.publicJwk.x.slice(1) }],
      ['a string', JSON.stringify(p256.publicJwk)],
      ['null', null],
    ];

    it.each(malformed)(
      'device.public_key as %s -> 400 invalid_request naming it',
      async (_name, publicKey) => {
        const created = await h.createKey();
        const body = deviceBody(FP_A);
        const response = await h.post(
          LOGIN,
          { ...body, device: { ...body.device, public_key: publicKey } },
          { device: h.deviceKey(FP_A), headers: { 'x-api-key': created.apiKey.value } },
        );
        expect(response.statusCode).toBe(400);
        expect(response.json()).toEqual(PUBLIC_KEY_INVALID);
        expect(await deviceRows(created.key.id)).toEqual([]);
      },
    );

    it("signed by another key than the body's device.public_key -> 401 invalid_proof, audited", async () => {
      const created = await h.createKey();
      const body = deviceBody(FP_A);
      const response = await h.post(
        LOGIN,
        { ...body, device: { ...body.device, public_key: h.deviceKey(FP_A).publicJwk } },
        { device: memoryDeviceKey(), headers: { 'x-api-key': created.apiKey.value } },
      );
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(OTHER_KEY);
      expect(await deviceRows(created.key.id)).toEqual([]);
      const events = await h.store.read.audit.list(created.key.id);
      expect(events.at(-1)).toMatchObject({
        event: 'proof_refused',
        detail: { code: 'invalid_proof', method: 'POST', path: LOGIN },
      });
    });

    it('the body changed after signing -> 401 invalid_proof (the key cannot be swapped)', async () => {
      const created = await h.createKey();
      const body = deviceBody(FP_A);
      const device = h.deviceKey(FP_A);
      const payload = JSON.stringify({ ...body, device: { ...body.device, public_key: device.publicJwk } });
      const swapped = memoryDeviceKey();
      const response = await send({
        method: 'POST',
        url: LOGIN,
        key: created.apiKey.value,
        headers: h.sign(device, 'POST', LOGIN, payload),
        payload: payload
          .replace(device.publicJwk.x, swapped.publicJwk.x)
          .replace(device.publicJwk.y, swapped.publicJwk.y),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json().error).toBe('invalid_proof');
      expect(await deviceRows(created.key.id)).toEqual([]);
    });

    it('the same fingerprint with a new device key -> 409 device_mismatch reason device_key; the binding stays', async () => {
      const { key, keyId } = await boundKey();
      const before = await deviceRows(keyId);
      h.advance(1_000);
      // auth.json copied to another home on this machine: same fingerprint, another device-key.json.
      const response = await h.post(LOGIN, deviceBody(FP_A), {
        device: memoryDeviceKey(),
        headers: { 'x-api-key': key },
      });
      expect(response.statusCode).toBe(409);
      expect(response.json()).toEqual({
        error: 'device_mismatch',
        message: `This API key is bound to a device with this machine's fingerprint but another device key (host-aaaa, since ${AT0}): device-key.json was replaced, or the credentials were copied from another home.`,
        bound_device: { name: 'host-aaaa', os: 'linux', os_version: 'Debian 12', bound_at: AT0 },
        reason: 'device_key',
      });
      expect(await deviceRows(keyId)).toEqual(before);
      expect(before).toEqual([
        {
          fingerprint: FP_A,
          public_key: JSON.stringify(h.deviceKey(FP_A).publicJwk),
          key_thumbprint: h.deviceKey(FP_A).thumbprint,
        },
      ]);
      expect((await h.store.read.audit.list(keyId)).map((event) => event.event)).toEqual(['create', 'bind']);
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(200);
    });

    it('the bound device logging in without its device key -> 401 proof_required; the binding stays', async () => {
      const { key, keyId } = await boundKey();
      const response = await h.post(LOGIN, deviceBody(FP_A), { headers: { 'x-api-key': key } });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(LOGIN_NEEDS_KEY);
      expect((await deviceRows(keyId))[0]?.key_thumbprint).toBe(h.deviceKey(FP_A).thumbprint);
    });
  });

  describe('bindings made before device proof', () => {
    beforeEach(() => start());

    /** A key bound to FP_A the way an older server bound it: no device key. */
    async function legacyKey() {
      const created = await h.createKey();
      await h.sql.run(
        `INSERT INTO devices (id, key_id, fingerprint, name, os, os_version, arch, bound_at, last_seen_at, last_ip)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          'dev_legacy0000000001',
          created.key.id,
          FP_A,
          'old-laptop',
          'linux',
          'Debian 11',
          'x64',
          AT0,
          AT0,
          '10.0.0.1',
        ],
      );
      return { key: created.apiKey.value, keyId: created.key.id };
    }

    it('status and whoami without a proof work from the bound fingerprint, not from another', async () => {
      const { key } = await legacyKey();
      for (const url of [STATUS, WHOAMI]) {
        const mine = await send({ url, key, fingerprint: FP_A });
        expect(mine.statusCode).toBe(200);
        expect(mine.json().device).toEqual({
          id: 'dev_legacy0000000001',
          fingerprint: FP_A,
          name: 'old-laptop',
          os: 'linux',
          bound_at: AT0,
          rebound: false,
          key_thumbprint: null,
        });
        expect((await send({ url, key, fingerprint: FP_B })).statusCode).toBe(409);
      }
    });

    it('an older CLI (no device key) logging in from the bound device refreshes it, still without a key', async () => {
      const { key, keyId } = await legacyKey();
      h.advance(1_000);
      const response = await h.post(LOGIN, deviceBody(FP_A), { headers: { 'x-api-key': key } });
      expect(response.statusCode).toBe(200);
      expect(response.json().device).toMatchObject({ id: 'dev_legacy0000000001', key_thumbprint: null });
      expect((await h.store.read.audit.list(keyId)).map((event) => event.event)).toEqual([
        'create',
        'refresh',
      ]);
      expect((await send({ url: STATUS, key, fingerprint: FP_A })).statusCode).toBe(200);
    });

    it('a login with a device key from the bound device upgrades it; from then on proofs are required', async () => {
      const { key, keyId } = await legacyKey();
      h.advance(1_000);
      const device = h.deviceKey(FP_A);
      const response = await h.login(key, FP_A);
      expect(response.statusCode).toBe(200);
      expect(response.json().device).toEqual({
        id: 'dev_legacy0000000001',
        fingerprint: FP_A,
        name: 'host-aaaa',
        os: 'linux',
        bound_at: AT0,
        rebound: false,
        key_thumbprint: device.thumbprint,
      });
      expect(await deviceRows(keyId)).toEqual([
        {
          fingerprint: FP_A,
          public_key: JSON.stringify(device.publicJwk),
          key_thumbprint: device.thumbprint,
        },
      ]);
      const events = await h.store.read.audit.list(keyId);
      expect(events.map((event) => event.event)).toEqual(['create', 'device_key_added']);
      expect(events[1]).toEqual({
        id: expect.any(Number),
        at: at(1_000),
        event: 'device_key_added',
        key_id: keyId,
        fingerprint: FP_A,
        device_name: 'host-aaaa',
        client_ip: '127.0.0.1',
        actor_user_id: null,
        detail: { device_id: 'dev_legacy0000000001' },
      });
      const unsigned = await send({ url: STATUS, key, fingerprint: FP_A });
      expect(unsigned.statusCode).toBe(401);
      expect(unsigned.json()).toEqual(REQUIRED);
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(200);
      // And an older CLI can no longer log in there.
      const old = await h.post(LOGIN, deviceBody(FP_A), { headers: { 'x-api-key': key } });
      expect(old.statusCode).toBe(401);
      expect(old.json()).toEqual(LOGIN_NEEDS_KEY);
    });

    it('a login with a device key from another fingerprint -> 409, the binding unchanged and keyless', async () => {
      const { key, keyId } = await legacyKey();
      const response = await h.login(key, FP_B);
      expect(response.statusCode).toBe(409);
      expect(response.json()).toEqual({
        error: 'device_mismatch',
        message: `This API key is bound to another device (old-laptop, linux, since ${AT0}).`,
        bound_device: { name: 'old-laptop', os: 'linux', os_version: 'Debian 11', bound_at: AT0 },
      });
      expect(await deviceRows(keyId)).toEqual([
        { fingerprint: FP_A, public_key: null, key_thumbprint: null },
      ]);
    });
  });

  describe('server keys', () => {
    beforeEach(() => start());

    it('status and whoami need no proof, from any fingerprint', async () => {
      const created = await h.createKey({ type: 'server' });
      for (const fingerprint of [FP_A, FP_B, FP_C]) {
        for (const url of [STATUS, WHOAMI]) {
          const response = await send({ url, key: created.apiKey.value, fingerprint });
          expect(response.statusCode).toBe(200);
          expect(response.json().device).toBeNull();
        }
      }
    });

    it('login -> 403 forbidden, signed or not, and nothing is bound', async () => {
      const created = await h.createKey({ type: 'server' });
      const message =
        'This is a server key: server keys are never bound to a device. Use it with SEKUIRE_API_KEY instead of logging in.';
      const signedLogin = await h.login(created.apiKey.value, FP_A);
      expect(signedLogin.statusCode).toBe(403);
      expect(signedLogin.json()).toEqual({ error: 'forbidden', message });
      const unsigned = await h.post(LOGIN, deviceBody(FP_A), {
        headers: { 'x-api-key': created.apiKey.value },
      });
      expect(unsigned.statusCode).toBe(403);
      expect(unsigned.json()).toEqual({ error: 'forbidden', message });
      expect(await deviceRows(created.key.id)).toEqual([]);
      expect(
        (await send({ method: 'POST', url: LOGOUT, key: created.apiKey.value, fingerprint: FP_A })).json(),
      ).toEqual({
        unbound: false,
      });
    });
  });

  describe('browser login grants', () => {
    beforeEach(() => start());

    it.each([
      ['POST /api/v1/cli/device/code', '/api/v1/cli/device/code', deviceBody(FP_B)],
      [
        'the authorization_code exchange',
        '/api/v1/cli/token',
        {
          grant_type: 'authorization_code',
          code: 'c'.repeat(43),
          code_verifier: 'v'.repeat(43),
          redirect_uri: 'http://127.0.0.1:49152/cb',
          ...deviceBody(FP_B),
        },
      ],
    ])('%s without device.public_key -> 400 invalid_request', async (_name, url, payload) => {
      const response = await h.post(url, payload);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual(PUBLIC_KEY_REQUIRED);
    });

    it('a device code asked unsigned or signed by another key -> 401, and no grant', async () => {
      const body = deviceBody(FP_B);
      const withKey = { ...body, device: { ...body.device, public_key: h.deviceKey(FP_B).publicJwk } };
      const unsigned = await h.post('/api/v1/cli/device/code', withKey);
      expect(unsigned.statusCode).toBe(401);
      expect(unsigned.json()).toEqual(REQUIRED);
      const other = await h.post('/api/v1/cli/device/code', withKey, { device: memoryDeviceKey() });
      expect(other.statusCode).toBe(401);
      expect(other.json()).toEqual(OTHER_KEY);
      expect(await h.sql.all('SELECT id FROM cli_grants')).toEqual([]);
    });

    it('an authorization_code exchange signed by another key -> 401 invalid_proof', async () => {
      const body = deviceBody(FP_B);
      const response = await h.post(
        '/api/v1/cli/token',
        {
          grant_type: 'authorization_code',
          code: 'c'.repeat(43),
          code_verifier: 'v'.repeat(43),
          redirect_uri: 'http://127.0.0.1:49152/cb',
          ...body,
          device: { ...body.device, public_key: h.deviceKey(FP_B).publicJwk },
        },
        { device: memoryDeviceKey() },
      );
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(OTHER_KEY);
    });

    it('a signed device code: the minted key is bound to that device key, and its status needs the proof', async () => {
      const { user } = await h.createUser({ email: 'ada@example.com' });
      const started = await h.post('/api/v1/cli/device/code', deviceBody(FP_B), {
        device: h.deviceKey(FP_B),
      });
      expect(started.statusCode).toBe(200);
      const { device_code: deviceCode, user_code: userCode } = started.json();
      const grant = await pendingDeviceGrant(h.store, userCode, h.now());
      expect(grant).toBeDefined();
      const actor = { user, clientIp: '127.0.0.1', now: h.now() };
      expect(await decideDeviceGrant(h.store, actor, grant?.id as string, KEY_DEFAULTS)).toBeTruthy();
      const granted = await h.post(
        '/api/v1/cli/token',
        { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode },
        { device: h.deviceKey(FP_B) },
      );
      expect(granted.statusCode).toBe(200);
      const body = granted.json();
      expect(body.device).toMatchObject({ fingerprint: FP_B, key_thumbprint: h.deviceKey(FP_B).thumbprint });
      expect(await deviceRows(body.key.id)).toEqual([
        {
          fingerprint: FP_B,
          public_key: JSON.stringify(h.deviceKey(FP_B).publicJwk),
          key_thumbprint: h.deviceKey(FP_B).thumbprint,
        },
      ]);
      const unsigned = await send({ url: STATUS, key: body.api_key, fingerprint: FP_B });
      expect(unsigned.statusCode).toBe(401);
      expect(unsigned.json()).toEqual(REQUIRED);
      expect((await h.get(STATUS, body.api_key, FP_B)).statusCode).toBe(200);
    });
  });
});

describeOnPostgres('the shared replay cache: two instances on one PostgreSQL database', () => {
  let h: Harness;
  let otherStore: Store;
  let other: FastifyInstance;
  beforeEach(async () => {
    h = await harness({ engine: 'postgres' });
    otherStore = await openStore(h.target, { mustExist: true });
    other = await buildApp({
      store: otherStore,
      secret: h.secret,
      now: () => h.now(),
      logError: (message) => h.logged.push(message),
      passwordCost: TEST_PASSWORD_COST,
      publicUrls: ['http://localhost'],
    });
    await other.ready();
  });
  afterEach(async () => {
    await other.close();
    await otherStore.close();
    expect(h.logged).toEqual([]);
    await h.close();
  });

  async function bound() {
    const created = await h.createKey();
    expect((await h.login(created.apiKey.value, FP_A)).statusCode).toBe(200);
    return created.apiKey.value;
  }

  const recordedStatus = (key: string) => {
    const headers: Record<string, string> = {
      'x-api-key': key,
      'x-sekuire-device': FP_A,
      ...h.sign(h.deviceKey(FP_A), 'GET', STATUS),
    };
    return { method: 'GET' as const, url: STATUS, headers };
  };

  it('a request accepted by one instance, replayed to the other -> 401 proof_replayed', async () => {
    const key = await bound();
    const recorded = recordedStatus(key);
    expect((await h.app.inject(recorded)).statusCode).toBe(200);
    const replayed = await other.inject(recorded);
    expect(replayed.statusCode).toBe(401);
    expect(replayed.json()).toEqual(REPLAYED);
    // Both instances go on serving the device's fresh requests.
    expect((await other.inject(recordedStatus(key))).statusCode).toBe(200);
    expect((await h.app.inject(recordedStatus(key))).statusCode).toBe(200);
  });

  it('the other way round, and the nonce is recorded in proof_nonces until the window ends', async () => {
    const key = await bound();
    const recorded = recordedStatus(key);
    expect((await other.inject(recorded)).statusCode).toBe(200);
    expect((await h.app.inject(recorded)).json()).toEqual(REPLAYED);
    const nonce = /nonce="([^"]+)"/.exec(recorded.headers['Signature-Input'] as string)?.[1];
    expect(
      await h.sql.all('SELECT expires_at FROM proof_nonces WHERE id = ?', [
        `${h.deviceKey(FP_A).thumbprint}.${nonce}`,
      ]),
    ).toEqual([{ expires_at: at(300_000) }]);
  });

  it('a recorded login replayed to the other instance is refused too', async () => {
    const created = await h.createKey();
    const device = h.deviceKey(FP_A);
    const body = deviceBody(FP_A);
    const payload = JSON.stringify({ ...body, device: { ...body.device, public_key: device.publicJwk } });
    const recorded = {
      method: 'POST' as const,
      url: LOGIN,
      headers: {
        'x-api-key': created.apiKey.value,
        'content-type': 'application/json',
        ...h.sign(device, 'POST', LOGIN, payload),
      },
      payload,
    };
    expect((await h.app.inject(recorded)).statusCode).toBe(200);
    const replayed = await other.inject(recorded);
    expect(replayed.statusCode).toBe(401);
    expect(replayed.json()).toEqual(REPLAYED);
  });
});

describe('the request target a proof covers', () => {
  it('is split exactly as the URL parser (the client side) splits it, fast path or not', () => {
    const part = fc.constantFrom(
      'api',
      'v1',
      'a',
      '.',
      '..',
      '%2e',
      '%20',
      ' ',
      'é',
      "'",
      '"',
      '<',
      '>',
      '~',
      '-',
      '_',
      '=',
      '&',
      ';',
      ':',
      '@',
      '!',
      '$',
      '(',
      '*',
      '+',
      ',',
      '?',
      '/',
      '\\',
      '#',
      '{',
      '|',
      '`',
      '^',
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 12 }), (parts) => {
        const target = `/${parts.join('')}`;
        const url = new URL(`http://target.invalid${target}`);
        expect(splitTarget(target)).toEqual({ path: url.pathname, query: url.search });
      }),
      { numRuns: 2_000 },
    );
    expect(splitTarget('/api/v1/cli/status')).toEqual({ path: '/api/v1/cli/status', query: '' });
    expect(splitTarget('http://proxy.example/api/v1/cli/status?x=1')).toEqual({
      path: '/api/v1/cli/status',
      query: '?x=1',
    });
  });
});
