// The proof names its audience: "@authority" is covered, the server's own API accepts only the
// authorities it serves (where it listens, loopback's names as one, --public-url), and proofs of
// earlier CLIs without it are accepted until the cut-over, refused after.
import { verify } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { LEGACY_PROOFS_UNTIL } from '../../packages/server/src/domain/proofs.js';
import { buildApp } from '../../packages/server/src/http/app.js';
import { legacySigned, memoryDeviceKey, signed } from '../helpers/device-keys.js';
import { forEachEngine } from '../helpers/engines.js';
import { FP_A, type Harness, type HarnessOptions, harness, T0, TEST_PASSWORD_COST } from './harness.js';

const STATUS = '/api/v1/cli/status';
const BAD_SIGNATURE = {
  error: 'invalid_proof',
  message: 'The device proof does not verify with the key this binding holds.',
};
const notServed = (authority: string) => ({
  error: 'invalid_proof',
  message: `The request is addressed to "${authority}", which this server does not serve: sign for the server's own address (an operator names public ones with start --public-url).`,
});
const LEGACY_REFUSED = {
  error: 'invalid_proof',
  message:
    'The device proof does not cover "@authority": proofs of earlier CLIs are no longer accepted. Update the sekuire CLI.',
};

forEachEngine((engine) => {
  let h: Harness | undefined;
  const open = async (options: HarnessOptions = {}) => {
    h = await harness({ engine, ...options });
    return h;
  };
  afterEach(async () => {
    expect(h?.logged ?? []).toEqual([]);
    await h?.close();
    h = undefined;
  });

  async function boundKey(server: Harness): Promise<string> {
    const created = await server.createKey();
    expect((await server.login(created.apiKey.value, FP_A)).statusCode).toBe(200);
    return created.apiKey.value;
  }

  const status = (server: Harness, key: string, proof: Record<string, string>, host?: string) =>
    server.inject({
      method: 'GET',
      url: STATUS,
      headers: { 'x-api-key': key, 'x-sekuire-device': FP_A, ...proof, ...(host !== undefined && { host }) },
    });

  describe('@authority', () => {
    it('the CLI signs the authority of the URL it sends to', () => {
      const device = memoryDeviceKey();
      const proof = signed(device, 'GET', 'https://API.Example.com:443/x?a=1', undefined, 1_790_000_000_000);
      const params = (proof['Signature-Input'] as string).slice('sekuire='.length);
      const base = [
        '"@method": GET',
        '"@authority": api.example.com',
        '"@path": /x',
        '"@query": ?a=1',
        `"content-digest": ${proof['Content-Digest']}`,
        `"@signature-params": ${params}`,
      ].join('\n');
      const signature = Buffer.from(/^sekuire=:(.*):$/.exec(proof.Signature as string)?.[1] ?? '', 'base64');
      expect(
        verify('sha256', Buffer.from(base), { key: device.privateKey, dsaEncoding: 'ieee-p1363' }, signature),
      ).toBe(true);
      expect(proof['Signature-Input']).toMatch(
        /^sekuire=\("@method" "@authority" "@path" "@query" "content-digest"\);created=\d+;nonce="[A-Za-z0-9_-]{22}";keyid="[A-Za-z0-9_-]{43}";alg="ecdsa-p256-sha256"$/,
      );
    });

    it('a proof signed for another server is refused, even replayed with that server as Host', async () => {
      const server = await open();
      const key = await boundKey(server);
      const device = server.deviceKey(FP_A);
      const now = server.now().getTime();
      const forOther = signed(device, 'GET', `https://api.other.example${STATUS}`, undefined, now);
      expect((await status(server, key, forOther)).json()).toEqual(BAD_SIGNATURE);
      const claimed = await status(
        server,
        key,
        signed(device, 'GET', `https://api.other.example${STATUS}`, undefined, now),
        'api.other.example',
      );
      expect(claimed.statusCode).toBe(401);
      expect(claimed.json()).toEqual(notServed('api.other.example'));
      // Signed for this server's public URL, the same request passes.
      expect((await status(server, key, signed(device, 'GET', STATUS, undefined, now))).statusCode).toBe(200);
    });

    it('--public-url origins are served; their default port is left out as a URL leaves it out', async () => {
      const server = await open({ publicUrls: ['http://localhost', 'https://sekuire.example.com'] });
      const key = await boundKey(server);
      const device = server.deviceKey(FP_A);
      const now = server.now().getTime();
      const publicProof = signed(device, 'GET', `https://sekuire.example.com${STATUS}`, undefined, now);
      // In-process requests are plain http: port 443 is not that scheme's default.
      expect((await status(server, key, publicProof, 'sekuire.example.com:443')).json()).toEqual(
        notServed('sekuire.example.com:443'),
      );
      const again = signed(device, 'GET', `https://sekuire.example.com${STATUS}`, undefined, now);
      expect((await status(server, key, again, 'SEKUIRE.example.com')).statusCode).toBe(200);
    });
  });

  describe('proofs of earlier CLIs, without @authority', () => {
    it('are accepted until the cut-over, and each only once', async () => {
      const server = await open({ legacyProofsUntil: new Date(T0.getTime() + 60_000) });
      const key = await boundKey(server);
      const proof = legacySigned(server.deviceKey(FP_A), 'GET', STATUS, undefined, server.now().getTime());
      expect(proof['Signature-Input']).toMatch(/^sekuire=\("@method" "@path" "@query" "content-digest"\);/);
      const first = await status(server, key, proof);
      expect(first.statusCode).toBe(200);
      expect((await status(server, key, proof)).json().error).toBe('proof_replayed');
      server.advance(59_999);
      const late = legacySigned(server.deviceKey(FP_A), 'GET', STATUS, undefined, server.now().getTime());
      expect((await status(server, key, late)).statusCode).toBe(200);
    });

    it('are refused from the cut-over on, with what to do', async () => {
      const server = await open({ legacyProofsUntil: new Date(T0.getTime() + 60_000) });
      const key = await boundKey(server);
      server.advance(60_000);
      const proof = legacySigned(server.deviceKey(FP_A), 'GET', STATUS, undefined, server.now().getTime());
      const refused = await status(server, key, proof);
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toEqual(LEGACY_REFUSED);
      expect((await status(server, key, server.sign(server.deviceKey(FP_A), 'GET', STATUS))).statusCode).toBe(
        200,
      );
    });

    it('the default cut-over is LEGACY_PROOFS_UNTIL (the harness clock, 2030, is past it)', async () => {
      expect(LEGACY_PROOFS_UNTIL.toISOString()).toBe('2027-07-01T00:00:00.000Z');
      const server = await open();
      const key = await boundKey(server);
      const proof = legacySigned(server.deviceKey(FP_A), 'GET', STATUS, undefined, server.now().getTime());
      expect((await status(server, key, proof)).json()).toEqual(LEGACY_REFUSED);
    });
  });
});

describe('where the server listens', () => {
  let app: FastifyInstance | undefined;
  let server: Harness | undefined;
  afterEach(async () => {
    await app?.close();
    await server?.close();
    app = undefined;
    server = undefined;
  });

  /** A GET to 127.0.0.1:port with this Host header and a proof signed for `signedFor`. */
  function get(
    port: number,
    host: string,
    key: string,
    signedFor: string,
  ): Promise<{ status: number; body: string }> {
    const device = (server as Harness).deviceKey(FP_A);
    const proof = signed(
      device,
      'GET',
      `http://${signedFor}${STATUS}`,
      undefined,
      (server as Harness).now().getTime(),
    );
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: STATUS,
          headers: { host, 'x-api-key': key, 'x-sekuire-device': FP_A, ...proof },
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            body += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      request.on('error', reject);
      request.end();
    });
  }

  it('on loopback: its port under localhost, 127.0.0.1 and [::1] alike; never another host', async () => {
    server = await harness();
    const created = await server.createKey();
    expect((await server.login(created.apiKey.value, FP_A)).statusCode).toBe(200);
    app = await buildApp({
      store: server.store,
      secret: server.secret,
      now: () => (server as Harness).now(),
      passwordCost: TEST_PASSWORD_COST,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const key = created.apiKey.value;
    for (const authority of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      expect(await get(port, authority, key, authority), authority).toEqual({
        status: 200,
        body: expect.stringContaining('"key":'),
      });
    }
    for (const authority of ['localhost', `localhost:${port + 1}`, `sekuire.example.com:${port}`]) {
      const refused = await get(port, authority, key, authority);
      expect(refused.status, authority).toBe(401);
      expect(JSON.parse(refused.body), authority).toEqual(notServed(authority));
    }
    // The Host is one the server serves, the proof another's: the signature does not verify.
    const crossed = await get(port, `127.0.0.1:${port}`, key, `sekuire.example.com:${port}`);
    expect(JSON.parse(crossed.body)).toEqual(BAD_SIGNATURE);
  });
});
