// Over real sockets: slow clients are cut off by requestTimeout, abuse does not stop valid requests.
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../../packages/server/src/domain/keys.js';
import { deviceBody, FP_A, type Harness, harness } from './harness.js';

const REQUEST_TIMEOUT_MS = 600;
let h: Harness;
let port: number;
let key: string;

beforeEach(async () => {
  h = await harness({
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: 1_000,
    failureLimit: { max: 5, windowMs: 60_000, globalMax: 600 },
  });
  key = (await h.createKey()).apiKey.value;
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  port = (h.app.server.address() as { port: number }).port;
});
afterEach(async () => {
  expect(h.logged).toEqual([]);
  await h.close();
});

interface Raw {
  readonly socket: Socket;
  /** Everything the server sent, once it closed the connection, with the time that took. */
  readonly closed: Promise<{ data: string; ms: number }>;
}

function rawConnection(initial: string): Raw {
  const started = Date.now();
  const socket = connect({ host: '127.0.0.1', port });
  socket.write(initial);
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    data += chunk;
  });
  const closed = new Promise<{ data: string; ms: number }>((resolve) => {
    socket.on('close', () => resolve({ data, ms: Date.now() - started }));
    socket.on('error', () => undefined);
  });
  return { socket, closed };
}

async function status(): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/cli/status`, {
    headers: { 'x-api-key': key, 'x-sekuire-device': FP_A },
  });
  await response.arrayBuffer();
  return response.status;
}

function expect408(data: string): void {
  expect(data).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  expect(data).toContain('\r\nCache-Control: no-store\r\n');
  expect(data.slice(data.indexOf('\r\n\r\n') + 4)).toBe(
    JSON.stringify({ error: 'request_timeout', message: 'The request took too long to arrive.' }),
  );
}

describe('slow clients', () => {
  it('partial headers that never finish are cut off with 408 while valid requests answer', async () => {
    const slow = rawConnection('GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    for (let i = 0; i < 3; i++) expect(await status()).toBe(200);
    const { data, ms } = await slow.closed;
    expect408(data);
    expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1_500);
  });

  it('a body that stops arriving is cut off too', async () => {
    const slow = rawConnection(
      `POST /api/v1/cli/login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${key}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"device":',
    );
    expect(await status()).toBe(200);
    const { data } = await slow.closed;
    expect408(data);
  });

  it('a trickle of header bytes does not extend the deadline', async () => {
    const slow = rawConnection('GET /api/v1/health HTTP/1.1\r\n');
    const timer = setInterval(() => slow.socket.write('X'), 100);
    try {
      const { data, ms } = await slow.closed;
      expect408(data);
      expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1_500);
    } finally {
      clearInterval(timer);
    }
  });

  it('garbage that is not HTTP gets 400 invalid_request and a closed connection', async () => {
    const bad = rawConnection('HELLO\r\n\r\n');
    const { data } = await bad.closed;
    expect(data).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(
      data.endsWith(JSON.stringify({ error: 'invalid_request', message: 'The request is not valid HTTP.' })),
    ).toBe(true);
  });
  it('oversized headers get 431 in the JSON error shape', async () => {
    const big = rawConnection(
      `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    const { data } = await big.closed;
    expect(data).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(
      data.endsWith(
        JSON.stringify({ error: 'invalid_request', message: 'The request headers are too large.' }),
      ),
    ).toBe(true);
  });
});

describe('abuse', () => {
  it('after bad keys, huge bodies, slow clients and garbage, a valid request still gets 200', async () => {
    const slow = Array.from({ length: 10 }, () =>
      rawConnection('GET /api/v1/cli/status HTTP/1.1\r\nHost: x\r\n'),
    );
    const garbage = Array.from({ length: 5 }, () => rawConnection('\x00\x01\x02 nonsense\r\n\r\n'));
    const huge = 'x'.repeat(1024 * 1024);
    const requests: Promise<number>[] = [];
    for (let i = 0; i < 40; i++) {
      requests.push(
        fetch(`http://127.0.0.1:${port}/api/v1/cli/whoami`, {
          headers: { 'x-api-key': `sk_test_${i}`, 'x-sekuire-device': FP_A },
        }).then(async (response) => {
          await response.arrayBuffer();
          return response.status;
        }),
      );
    }
    for (const headers of [{ 'x-api-key': key }, { 'x-api-key': 'nope' }]) {
      for (let i = 0; i < 3; i++) {
        requests.push(
          fetch(`http://127.0.0.1:${port}/api/v1/cli/login`, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body: huge,
          })
            .then(async (response) => {
              await response.arrayBuffer();
              return response.status;
            })
            // The server may close the connection before the whole body is sent.
            .catch(() => 0),
        );
      }
    }
    const statuses = await Promise.all(requests);
    expect(new Set(statuses.slice(0, 40))).toEqual(new Set([401, 429]));
    expect(statuses.slice(40, 43).every((code) => code === 413 || code === 0)).toBe(true);
    expect(statuses.slice(43).every((code) => code === 401 || code === 429 || code === 0)).toBe(true);
    // While the slow clients are still hanging on:
    expect(await status()).toBe(200);
    for (const connection of [...slow, ...garbage]) await connection.closed;
    expect(await status()).toBe(200);
    expect((await h.store.read.audit.list()).filter((event) => event.event === 'rate_limited')).toHaveLength(
      1,
    );
  });
});

describe('a revocation that lands while a login body is arriving', () => {
  it('wins: the login answers 401 key_revoked and binds nothing', async () => {
    const created = await h.createKey();
    const device = h.deviceKey(FP_A);
    const plain = deviceBody(FP_A);
    const body = JSON.stringify({ device: { ...plain.device, public_key: device.publicJwk } });
    const proof = h.sign(device, 'POST', `http://127.0.0.1:${port}/api/v1/cli/login`, body);
    const raw = rawConnection(
      `POST /api/v1/cli/login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-API-Key: ${created.apiKey.value}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n` +
        `${Object.entries(proof)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('')}\r\n`,
    );
    // The key is checked as soon as the headers are in, which records its use: wait for that,
    // so the revocation below surely lands between the check and the body.
    for (let waited = 0; waited < 2_000; waited += 5) {
      if ((await h.store.read.keys.byId(created.key.id))?.last_used_at != null) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect((await h.store.read.keys.byId(created.key.id))?.last_used_at).not.toBeNull();
    await revokeApiKey(h.store, created.key.id, h.now());
    raw.socket.write(body);
    const { data } = await raw.closed;
    expect(data).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(data.slice(data.indexOf('\r\n\r\n') + 4)).toBe(
      JSON.stringify({ error: 'key_revoked', message: 'This API key has been revoked.' }),
    );
    expect(await h.store.read.devices.active(created.key.id)).toBeUndefined();
  });
});
