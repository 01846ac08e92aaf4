// send() against real servers on 127.0.0.1: retries, timeouts, redirects, size cap, CONNECT proxy, TLS.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  connect as netConnect,
  type Socket,
} from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { maskKey, mintKey, parseKey } from '@sekuire/shared/key';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { UsageError } from '../../packages/cli/src/core/errors.js';
import { NetworkError } from '../../packages/cli/src/core/http/failures.js';
import { DEFAULT_POLICY, type NetworkPolicy } from '../../packages/cli/src/core/http/policy.js';
import { redactHeaders } from '../../packages/cli/src/core/http/redaction.js';
import {
  type HttpEvent,
  type HttpRequest,
  type SendOptions,
  send,
} from '../../packages/cli/src/core/http/send.js';
import { Settings } from '../../packages/cli/src/core/settings.js';
import { selfSignedCert } from '../helpers/tls.js';

const USER_AGENT = `sekuire/${__SEKUIRE_VERSION__} node/${process.versions.node}`;

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, index: number) => void;

async function listen(server: Server | NetServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Closes the server when the test ends, connections included, so nothing outlives a test. */
function closeOnFinish(server: Server | NetServer, sockets: Set<Socket>): void {
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
}

function track(server: Server | NetServer): { sockets: Set<Socket>; connections: () => number } {
  const sockets = new Set<Socket>();
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return { sockets, connections: () => connections };
}

async function backend(handler: Handler) {
  const seen: Seen[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    handler(req, res, seen.length);
  });
  const { sockets, connections } = track(server);
  const port = await listen(server);
  closeOnFinish(server, sockets);
  return { port, url: (path: string) => new URL(path, `http://127.0.0.1:${port}`), seen, connections };
}

/** A TCP server that accepts and then does `onSocket`; by default it reads and never answers. */
async function rawServer(onSocket: (socket: Socket) => void = (socket) => socket.resume()) {
  const server = createNetServer(onSocket);
  const { sockets, connections } = track(server);
  const closed: number[] = [];
  server.on('connection', (socket: Socket) => socket.on('close', () => closed.push(Date.now())));
  const port = await listen(server);
  closeOnFinish(server, sockets);
  return { port, connections, closed };
}

/**
 * A port nothing listens on: 1 is privileged and unused. (A port freed by a probe server can
 * be taken by another test file's server before it is used, and then something answers.)
 */
async function closedPort(): Promise<number> {
  return 1;
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function options(policy: Partial<NetworkPolicy> = {}, extra: Partial<SendOptions> = {}) {
  const delays: number[] = [];
  const events: HttpEvent[] = [];
  const sendOptions: SendOptions = {
    policy: { ...DEFAULT_POLICY, ...policy },
    env: {},
    onEvent: (event) => events.push(event),
    random: () => 0.5,
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...extra,
  };
  return { sendOptions, delays, events };
}

function get(url: URL, headers: Record<string, string> = {}, key?: string): HttpRequest {
  return { method: 'GET', url, headers, retry: 'idempotent', ...(key ? { key: parseKey(key) } : {}) };
}

function policyFromEnv(env: Record<string, string>): NetworkPolicy {
  return new Settings(env, { path: '/nowhere/config.json', values: {}, warnings: [] }).policy();
}

function post(url: URL, body: string, retry: HttpRequest['retry'] = 'unsent-only'): HttpRequest {
  return { method: 'POST', url, headers: {}, body, retry };
}

async function failure(promise: Promise<unknown>): Promise<NetworkError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof NetworkError) return error;
    throw error;
  }
  throw new Error('expected a NetworkError');
}

function summary(error: NetworkError) {
  return { kind: error.kind, message: error.message, detail: error.detail, attempts: error.attempts };
}

describe('send: answers', () => {
  it('sends a GET with the standard headers and decodes a JSON answer', async () => {
    const key = mintKey('live').value;
    const server = await backend((_req, res) => json(res, 200, { ok: 'héllo ✓' }));
    const { sendOptions, events } = options();
    const response = await send(get(server.url('/api/v1/cli/status'), {}, key), sendOptions);
    expect({ status: response.status, body: response.body, attempts: response.attempts }).toEqual({
      status: 200,
      body: '{"ok":"héllo ✓"}',
      attempts: 1,
    });
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(server.seen).toEqual([
      {
        method: 'GET',
        url: '/api/v1/cli/status',
        body: '',
        headers: {
          host: `127.0.0.1:${server.port}`,
          accept: 'application/json',
          'user-agent': USER_AGENT,
          'x-api-key': key,
          connection: 'close',
        },
      },
    ]);
    expect(events).toEqual([
      {
        type: 'request',
        method: 'GET',
        url: `http://127.0.0.1:${server.port}/api/v1/cli/status`,
        attempt: 1,
        headers: {
          Host: `127.0.0.1:${server.port}`,
          Accept: 'application/json',
          'User-Agent': USER_AGENT,
          'X-API-Key': maskKey(key),
          Connection: 'close',
        },
      },
      { type: 'response', status: 200, elapsedMs: expect.any(Number), attempt: 1 },
    ]);
    expect(JSON.stringify(events)).not.toContain(key);
  });

  it('sends a POST body as JSON with its length', async () => {
    const server = await backend((_req, res) => json(res, 201, {}));
    const response = await send(
      post(server.url('/api/v1/cli/login'), '{"rebind":false}'),
      options().sendOptions,
    );
    expect(response.status).toBe(201);
    expect(server.seen).toEqual([
      {
        method: 'POST',
        url: '/api/v1/cli/login',
        body: '{"rebind":false}',
        headers: {
          host: `127.0.0.1:${server.port}`,
          accept: 'application/json',
          'user-agent': USER_AGENT,
          'content-type': 'application/json',
          'content-length': '16',
          connection: 'close',
        },
      },
    ]);
  });

  it('joins repeated response headers under lowercase names', async () => {
    const server = await backend((_req, res) => {
      res.setHeader('X-Thing', ['a', 'b']);
      json(res, 200, {});
    });
    const response = await send(get(server.url('/')), options().sendOptions);
    expect(response.headers['x-thing']).toBe('a, b');
  });

  it('refuses a body over maxBodyBytes, with or without Content-Length', async () => {
    const server = await backend((req, res) => {
      if (req.url === '/declared') {
        res.writeHead(200, { 'Content-Length': '1001' });
        res.end('x'.repeat(1001));
      } else if (req.url === '/chunked') {
        res.writeHead(200);
        for (let i = 0; i < 11; i++) res.write('x'.repeat(100));
        res.end();
      } else {
        res.writeHead(200, { 'Content-Length': '1000' });
        res.end('y'.repeat(1000));
      }
    });
    const policy = { maxBodyBytes: 1000 };
    for (const path of ['/declared', '/chunked']) {
      const error = await failure(send(get(server.url(path)), options(policy).sendOptions));
      expect(summary(error)).toEqual({
        kind: 'too_large',
        message: `The answer from 127.0.0.1:${server.port} is larger than 1000 bytes.`,
        detail: 'over 1000 bytes',
        attempts: 1,
      });
    }
    expect((await send(get(server.url('/exact')), options(policy).sendOptions)).body).toBe('y'.repeat(1000));
  });

  it('reads chunked bodies split anywhere, skips interim 1xx answers, and reads a body to the close', async () => {
    const answers: Record<string, string[]> = {
      '/chunked': [
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n',
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n',
        '6;ext=1\r\nhé',
        'llo\r\n',
        '1\r\n',
        '!\r\n0\r\nX-Trailer: t\r\n\r\n',
      ],
      '/close': ['HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall ', 'until the end'],
      '/empty': ['HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n'],
    };
    const server = await rawServer((socket) => {
      let request = '';
      socket.on('data', async (chunk: Buffer) => {
        request += chunk.toString('latin1');
        if (!request.includes('\r\n\r\n')) return;
        const path = request.split(' ')[1] ?? '';
        // One write per piece, apart: the reader must join them wherever they split.
        for (const piece of answers[path] ?? []) {
          socket.write(Buffer.from(piece, 'utf8'));
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        if (path === '/close') socket.end();
      });
    });
    const at = (path: string) => new URL(`http://127.0.0.1:${server.port}${path}`);
    const chunked = await send(get(at('/chunked')), options().sendOptions);
    expect({ status: chunked.status, body: chunked.body, a: chunked.headers['x-a'] }).toEqual({
      status: 200,
      body: 'héllo!',
      a: '1, 2',
    });
    const close = await send(get(at('/close')), options().sendOptions);
    expect({ status: close.status, body: close.body }).toEqual({ status: 200, body: 'all until the end' });
    const empty = await send(get(at('/empty')), options().sendOptions);
    expect({ status: empty.status, body: empty.body }).toEqual({ status: 204, body: '' });
  });

  it('reports an answer cut short (no head, or part of a declared body) as a reset', async () => {
    const server = await rawServer((socket) =>
      socket.once('data', (chunk: Buffer) => {
        if (chunk.toString('latin1').startsWith('GET /part ')) {
          socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
        } else socket.end();
      }),
    );
    const at = (path: string) => new URL(`http://127.0.0.1:${server.port}${path}`);
    const policy = { retries: 0 };
    expect(summary(await failure(send(get(at('/none')), options(policy).sendOptions)))).toEqual({
      kind: 'reset',
      message: `The connection to 127.0.0.1:${server.port} was reset: connection reset (ECONNRESET).`,
      detail: 'ECONNRESET',
      attempts: 1,
    });
    expect(summary(await failure(send(get(at('/part')), options(policy).sendOptions)))).toEqual({
      kind: 'reset',
      message: `The connection to 127.0.0.1:${server.port} was reset: connection closed early (ERR_STREAM_PREMATURE_CLOSE).`,
      detail: 'ERR_STREAM_PREMATURE_CLOSE',
      attempts: 1,
    });
  });

  it('refuses a header value that would split the request, before sending anything', async () => {
    const server = await backend((_req, res) => json(res, 200, {}));
    const error = await failure(
      send(get(server.url('/'), { 'X-Note': 'a\r\nX-Injected: 1' }), options().sendOptions),
    );
    expect({ kind: error.kind, message: error.message }).toEqual({
      kind: 'other',
      message: 'Invalid character in header content ["X-Note"] (ERR_INVALID_CHAR)',
    });
    expect(server.seen).toEqual([]);
  });

  it('reaches http://localhost, whose addresses the loopback-only lookup accepts', async () => {
    const server = await backend((_req, res) => json(res, 200, {}));
    const response = await send(get(new URL(`http://localhost:${server.port}/`)), options().sendOptions);
    expect(response.status).toBe(200);
    expect(server.seen[0]?.headers.host).toBe(`localhost:${server.port}`);
  });

  it('refuses to put a key on plain http to a host that is not loopback, before connecting', async () => {
    const attempt = send(
      get(new URL('http://example.com/'), { 'X-API-Key': 'whatever-secret' }),
      options().sendOptions,
    );
    await expect(attempt).rejects.toBeInstanceOf(UsageError);
    await expect(attempt).rejects.toMatchObject({ code: 'insecure_backend_url' });
  });
});

describe('send: retries', () => {
  it('retries a 503 and returns the 200 that follows', async () => {
    const server = await backend((_req, res, n) => json(res, n === 1 ? 503 : 200, { n }));
    const { sendOptions, delays, events } = options({ backoffBaseMs: 100 });
    const response = await send(get(server.url('/')), sendOptions);
    expect({ status: response.status, body: response.body, attempts: response.attempts }).toEqual({
      status: 200,
      body: '{"n":2}',
      attempts: 2,
    });
    expect(delays).toEqual([50]);
    expect(events.map((event) => event.type)).toEqual([
      'request',
      'response',
      'retry',
      'request',
      'response',
    ]);
    expect(events[2]).toEqual({ type: 'retry', attempt: 1, delayMs: 50, reason: 'HTTP 503' });
  });

  it('backs off with full jitter and returns the last answer when retries run out', async () => {
    const server = await backend((_req, res) => json(res, 502, {}));
    const { sendOptions, delays } = options({ backoffBaseMs: 100, backoffCapMs: 150, retries: 3 });
    const response = await send(get(server.url('/')), sendOptions);
    expect({ status: response.status, attempts: response.attempts }).toEqual({ status: 502, attempts: 4 });
    expect(delays).toEqual([50, 75, 75]);
    expect(server.seen.length).toBe(4);
  });

  it('waits as long as Retry-After says (seconds)', async () => {
    const server = await backend((_req, res, n) =>
      json(res, n === 1 ? 429 : 200, {}, n === 1 ? { 'Retry-After': '1' } : {}),
    );
    const { sendOptions, delays } = options();
    const response = await send(get(server.url('/')), sendOptions);
    expect({ status: response.status, attempts: response.attempts, delays }).toEqual({
      status: 200,
      attempts: 2,
      delays: [1000],
    });
  });

  it('reads Retry-After as an HTTP date', async () => {
    const at = new Date(Date.now() + 3000).toUTCString();
    const server = await backend((_req, res, n) =>
      json(res, n === 1 ? 503 : 200, {}, n === 1 ? { 'Retry-After': at } : {}),
    );
    const { sendOptions, delays } = options();
    expect((await send(get(server.url('/')), sendOptions)).attempts).toBe(2);
    expect(delays.length).toBe(1);
    // Read as a date, not the jitter (125 ms here); how much of the 3 s is left depends on load.
    expect(delays[0]).toBeGreaterThan(200);
    expect(delays[0]).toBeLessThanOrEqual(3000);
  });

  it('returns the 429 at once when Retry-After is longer than the cap', async () => {
    const server = await backend((_req, res) =>
      json(res, 429, { error: 'rate_limited' }, { 'Retry-After': '11' }),
    );
    const { sendOptions, delays } = options();
    const response = await send(get(server.url('/')), sendOptions);
    expect({
      status: response.status,
      attempts: response.attempts,
      retryAfter: response.headers['retry-after'],
      delays,
    }).toEqual({
      status: 429,
      attempts: 1,
      retryAfter: '11',
      delays: [],
    });
  });

  it('returns the 429 at once when waiting would cross the deadline', async () => {
    const server = await backend((_req, res) => json(res, 429, {}, { 'Retry-After': '5' }));
    const { sendOptions, delays } = options({ deadlineMs: 2000, attemptTimeoutMs: 2000 });
    const response = await send(get(server.url('/')), sendOptions);
    expect({ status: response.status, attempts: response.attempts, delays }).toEqual({
      status: 429,
      attempts: 1,
      delays: [],
    });
  });

  it("does not repeat an 'unsent-only' POST answered 503", async () => {
    const server = await backend((_req, res) => json(res, 503, {}));
    const response = await send(post(server.url('/api/v1/cli/login'), '{}'), options().sendOptions);
    expect({ status: response.status, attempts: response.attempts, seen: server.seen.length }).toEqual({
      status: 503,
      attempts: 1,
      seen: 1,
    });
  });

  it("repeats an 'unsent-only' POST answered 429", async () => {
    const server = await backend((_req, res, n) => json(res, n === 1 ? 429 : 200, {}));
    const response = await send(post(server.url('/api/v1/cli/login'), '{}'), options().sendOptions);
    expect({ status: response.status, attempts: response.attempts, seen: server.seen.length }).toEqual({
      status: 200,
      attempts: 2,
      seen: 2,
    });
  });

  it("does not repeat an 'unsent-only' POST whose connection was reset after sending; repeats an idempotent one", async () => {
    const server = await rawServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const url = new URL(`http://127.0.0.1:${server.port}/api/v1/cli/login`);
    const unsent = await failure(send(post(url, '{}'), options().sendOptions));
    expect(summary(unsent)).toEqual({
      kind: 'reset',
      message: `The connection to 127.0.0.1:${server.port} was reset: connection reset (ECONNRESET).`,
      detail: 'ECONNRESET',
      attempts: 1,
    });
    expect(server.connections()).toBe(1);
    const idempotent = await failure(send(post(url, '{}', 'idempotent'), options().sendOptions));
    expect({ kind: idempotent.kind, attempts: idempotent.attempts }).toEqual({ kind: 'reset', attempts: 3 });
    expect(server.connections()).toBe(4);
  });

  it("repeats even an 'unsent-only' POST when the connection is refused", async () => {
    const port = await closedPort();
    const { sendOptions, delays, events } = options();
    const key = mintKey('live').value;
    const request = { ...post(new URL(`http://127.0.0.1:${port}/`), '{}'), key: parseKey(key) };
    const error = await failure(send(request, sendOptions));
    expect(JSON.stringify([error, error.message, events])).not.toContain(key);
    expect(summary(error)).toEqual({
      kind: 'refused',
      message: `Connection to 127.0.0.1:${port} refused.`,
      detail: 'ECONNREFUSED',
      attempts: 3,
    });
    expect(delays).toEqual([125, 250]);
  });

  it('does not retry a host name that does not resolve', async () => {
    const error = await failure(send(get(new URL('https://nonexistent.invalid/')), options().sendOptions));
    expect(summary(error)).toEqual({
      kind: 'dns',
      message: 'Cannot resolve nonexistent.invalid: host name not found (ENOTFOUND).',
      detail: 'ENOTFOUND',
      attempts: 1,
    });
  });
});

describe('send: timeouts', () => {
  it('gives up on a silent server after the attempt timeout, and closes the socket', async () => {
    const server = await rawServer();
    const started = performance.now();
    const error = await failure(
      send(
        get(new URL(`http://127.0.0.1:${server.port}/`)),
        options({ attemptTimeoutMs: 200, retries: 0 }).sendOptions,
      ),
    );
    const elapsed = performance.now() - started;
    expect(summary(error)).toEqual({
      kind: 'timeout',
      message: `No complete answer from 127.0.0.1:${server.port} within 200 ms.`,
      detail: undefined,
      attempts: 1,
    });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    await expect.poll(() => server.closed.length, { timeout: 1000 }).toBe(1);
  });

  it('stops at the total deadline across retries', async () => {
    const server = await rawServer();
    const started = performance.now();
    const { sendOptions, delays } = options(
      { attemptTimeoutMs: 200, deadlineMs: 500, retries: 5 },
      { random: () => 0 },
    );
    const error = await failure(send(get(new URL(`http://127.0.0.1:${server.port}/`)), sendOptions));
    const elapsed = performance.now() - started;
    // Three attempts fit in 500 ms on an idle machine (0, 200, 400 ms); on a loaded one the
    // timers fire late and the deadline may come during the second. Either way it stops there,
    // with no attempt the deadline did not allow, and says so.
    const { attempts, ...rest } = summary(error);
    expect(rest).toEqual({
      kind: 'deadline',
      message: `No answer from 127.0.0.1:${server.port} before the 500 ms deadline.`,
      detail: undefined,
    });
    expect([2, 3]).toContain(attempts);
    expect(server.connections()).toBe(attempts);
    expect(delays).toEqual(Array(attempts - 1).fill(0));
    expect(elapsed).toBeGreaterThanOrEqual(480);
  });

  // 10.255.255.1 "connects" in this container (something answers SYNs), so a TLS server that
  // never finishes the handshake stands in for an unreachable host.
  it('times out the connect phase when the TLS handshake never completes', async () => {
    const server = await rawServer();
    const { sendOptions, delays } = options({ connectTimeoutMs: 150, attemptTimeoutMs: 2000, retries: 1 });
    const error = await failure(send(post(new URL(`https://127.0.0.1:${server.port}/`), '{}'), sendOptions));
    expect(summary(error)).toEqual({
      kind: 'connect_timeout',
      message: `No connection to 127.0.0.1:${server.port} within 150 ms.`,
      detail: undefined,
      attempts: 2,
    });
    expect(delays).toEqual([125]);
  });
});

describe('send: redirects', () => {
  it('follows same-origin redirects: 307 keeps the POST, 303 turns it into a GET', async () => {
    const server = await backend((req, res) => {
      if (req.url === '/a') res.writeHead(307, { Location: '/b' }).end();
      else if (req.url === '/b') res.writeHead(303, { Location: `http://127.0.0.1:${server.port}/c` }).end();
      else json(res, 200, { at: req.url });
    });
    const { sendOptions, events } = options();
    const response = await send(post(server.url('/a'), '{"x":1}', 'idempotent'), sendOptions);
    expect({ status: response.status, body: response.body, attempts: response.attempts }).toEqual({
      status: 200,
      body: '{"at":"/c"}',
      attempts: 3,
    });
    expect(server.seen.map((s) => [s.method, s.url, s.body, s.headers['content-type']])).toEqual([
      ['POST', '/a', '{"x":1}', 'application/json'],
      ['POST', '/b', '{"x":1}', 'application/json'],
      ['GET', '/c', '', undefined],
    ]);
    expect(events.filter((event) => event.type === 'redirect')).toEqual([
      { type: 'redirect', from: server.url('/a').href, to: server.url('/b').href, followed: true },
      { type: 'redirect', from: server.url('/b').href, to: server.url('/c').href, followed: true },
    ]);
  });

  it('does not follow a 301 or 302 answer to a POST', async () => {
    const server = await backend((_req, res) => res.writeHead(301, { Location: '/elsewhere' }).end());
    const { sendOptions, events } = options();
    const error = await failure(send(post(server.url('/api/v1/cli/login'), '{}'), sendOptions));
    expect(summary(error)).toEqual({
      kind: 'redirect',
      message: `The backend at http://127.0.0.1:${server.port} answered a POST with HTTP 301, a redirect that would turn it into a GET; not following it.`,
      detail: 'HTTP 301',
      attempts: 1,
    });
    expect(server.seen.length).toBe(1);
    // 'followed: false' is reserved for another origin (auth test --verbose says so).
    expect(events.filter((event) => event.type === 'redirect')).toEqual([]);
  });

  it('stops after maxRedirects', async () => {
    const server = await backend((_req, res, n) => res.writeHead(302, { Location: `/loop/${n}` }).end());
    const error = await failure(send(get(server.url('/')), options().sendOptions));
    expect(summary(error)).toEqual({
      kind: 'redirect',
      message: `The backend at http://127.0.0.1:${server.port} redirected more than 3 times.`,
      detail: 'HTTP 302',
      attempts: 4,
    });
  });

  it.each([
    [
      'another port',
      (other: number) => `http://127.0.0.1:${other}/steal`,
      (other: number) => `http://127.0.0.1:${other}`,
    ],
    [
      'another host',
      (other: number) => `http://localhost:${other}/steal`,
      (other: number) => `http://localhost:${other}`,
    ],
  ])('never contacts another origin (%s)', async (_name, location, origin) => {
    const other = await backend((_req, res) => json(res, 200, { stolen: true }));
    const key = mintKey('test').value;
    const server = await backend((_req, res) => res.writeHead(302, { Location: location(other.port) }).end());
    const { sendOptions, events } = options();
    const error = await failure(send(get(server.url('/api/v1/cli/status'), {}, key), sendOptions));
    expect(summary(error)).toEqual({
      kind: 'redirect',
      message: `The backend at http://127.0.0.1:${server.port} redirected to another origin (${origin(other.port)}).`,
      detail: 'HTTP 302',
      attempts: 1,
    });
    expect({ connections: other.connections(), seen: other.seen }).toEqual({ connections: 0, seen: [] });
    expect(events.at(-1)).toEqual({
      type: 'redirect',
      from: server.url('/api/v1/cli/status').href,
      to: location(other.port),
      followed: false,
    });
  });

  it('refuses an upgrade to https on the same host: it is another origin', async () => {
    const server = await backend((_req, res) =>
      res.writeHead(301, { Location: `https://127.0.0.1:${server.port}/` }).end(),
    );
    const error = await failure(send(get(server.url('/')), options().sendOptions));
    expect(error.message).toBe(
      `The backend at http://127.0.0.1:${server.port} redirected to another origin (https://127.0.0.1:${server.port}).`,
    );
    expect(server.connections()).toBe(1);
  });
});

describe('redactHeaders', () => {
  const key = mintKey('live').value;
  it.each<[Record<string, string>, Record<string, string>]>([
    [{ 'X-API-Key': key }, { 'X-API-Key': maskKey(key) }],
    [{ 'x-api-key': key }, { 'x-api-key': maskKey(key) }],
    [{ 'X-Api-Key': 'not-a-key' }, { 'X-Api-Key': '[redacted]' }],
    // Another last character (never the key's own: that would be the key itself, 1 time in 62).
    [{ 'X-API-Key': `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}` }, { 'X-API-Key': '[redacted]' }],
    [{ 'X-API-Key': mintKey('live').value }, { 'X-API-Key': '[redacted]' }],
    [{ Authorization: `Bearer ${key}` }, { Authorization: `Bearer ${maskKey(key)}` }],
    [{ authorization: 'Bearer opaque-token' }, { authorization: 'Bearer [redacted]' }],
    [{ Authorization: 'opaque' }, { Authorization: '[redacted]' }],
    [{ 'Proxy-Authorization': 'Basic dXNlcjpwdw==' }, { 'Proxy-Authorization': 'Basic [redacted]' }],
    [
      { Accept: 'application/json', 'X-Sekuire-Device': 'ab'.repeat(32) },
      { Accept: 'application/json', 'X-Sekuire-Device': 'ab'.repeat(32) },
    ],
  ])('%j', (headers, expected) => {
    // The transport is given the typed key: only that key is shown, and only masked.
    expect(redactHeaders(headers, parseKey(key))).toEqual(expected);
  });
});

describe('the network policy from the environment', () => {
  it.each<[Record<string, string>, Partial<NetworkPolicy>]>([
    [{}, {}],
    [{ SEKUIRE_TIMEOUT: '' }, {}],
    [{ SEKUIRE_TIMEOUT: '60' }, { deadlineMs: 60_000 }],
    [{ SEKUIRE_TIMEOUT: '2.5' }, { deadlineMs: 2500, attemptTimeoutMs: 2500, connectTimeoutMs: 2500 }],
    [{ SEKUIRE_TIMEOUT: '.5' }, { deadlineMs: 500, attemptTimeoutMs: 500, connectTimeoutMs: 500 }],
    [{ SEKUIRE_TIMEOUT: ' 8 ' }, { deadlineMs: 8000, attemptTimeoutMs: 8000 }],
    [{ SEKUIRE_CONNECT_TIMEOUT: '1' }, { connectTimeoutMs: 1000 }],
    [{ SEKUIRE_CONNECT_TIMEOUT: '30' }, { connectTimeoutMs: 10_000 }],
    [
      { SEKUIRE_CONNECT_TIMEOUT: '3', SEKUIRE_TIMEOUT: '2' },
      { deadlineMs: 2000, attemptTimeoutMs: 2000, connectTimeoutMs: 2000 },
    ],
    [{ SEKUIRE_RETRIES: '0' }, { retries: 0 }],
    [{ SEKUIRE_RETRIES: '10' }, { retries: 10 }],
  ])('%j', (env, changes) => {
    expect(policyFromEnv(env)).toEqual({ ...DEFAULT_POLICY, ...changes });
  });

  const seconds = (name: string, got: string) =>
    `${name} must be a number of seconds above 0 and at most 3600 (decimals allowed, e.g. 2.5); got "${got}".`;
  it.each([
    [{ SEKUIRE_TIMEOUT: '0' }, seconds('SEKUIRE_TIMEOUT', '0')],
    [{ SEKUIRE_TIMEOUT: '-1' }, seconds('SEKUIRE_TIMEOUT', '-1')],
    [{ SEKUIRE_TIMEOUT: '10s' }, seconds('SEKUIRE_TIMEOUT', '10s')],
    [{ SEKUIRE_TIMEOUT: '1e3' }, seconds('SEKUIRE_TIMEOUT', '1e3')],
    [{ SEKUIRE_TIMEOUT: '3601' }, seconds('SEKUIRE_TIMEOUT', '3601')],
    [{ SEKUIRE_CONNECT_TIMEOUT: 'abc' }, seconds('SEKUIRE_CONNECT_TIMEOUT', 'abc')],
    [{ SEKUIRE_RETRIES: '11' }, 'SEKUIRE_RETRIES must be a whole number from 0 to 10; got "11".'],
    [{ SEKUIRE_RETRIES: '1.5' }, 'SEKUIRE_RETRIES must be a whole number from 0 to 10; got "1.5".'],
    [{ SEKUIRE_RETRIES: '-1' }, 'SEKUIRE_RETRIES must be a whole number from 0 to 10; got "-1".'],
  ])('refuses %j', (env, message) => {
    let thrown: unknown;
    try {
      policyFromEnv(env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect({ message: (thrown as UsageError).message, exitCode: (thrown as UsageError).exitCode }).toEqual({
      message,
      exitCode: 2,
    });
  });
});

describe('send: TLS and proxies', () => {
  let dir = '';
  let certFile = '';
  let tlsPort = 0;
  let tlsServer: Server | undefined;
  const tlsSeen: Seen[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sekuire-http-'));
    ({ cert: certFile } = selfSignedCert(dir, ['backend.test']));
    tlsServer = createHttpsServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(certFile) },
      (req, res) => {
        tlsSeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
        json(res, 200, { over: 'tls' });
      },
    );
    tlsPort = await listen(tlsServer);
  });

  afterAll(async () => {
    tlsServer?.closeAllConnections();
    await new Promise<void>((resolve) => (tlsServer ? tlsServer.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A CONNECT proxy that maps backend.test to the TLS server, or answers CONNECT with `status`. */
  async function proxy(status = 200) {
    const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];
    const server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      json(res, 200, { via: 'proxy' });
    });
    server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      client.on('error', () => {});
      if (status !== 200 || req.url !== `backend.test:${tlsPort}`) {
        client.end(`HTTP/1.1 ${status === 200 ? 502 : status} No\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      const upstream = netConnect(tlsPort, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
    const { sockets } = track(server);
    const port = await listen(server);
    closeOnFinish(server, sockets);
    return { port, seen };
  }

  it('reports an untrusted certificate as tls, without retrying', async () => {
    tlsSeen.length = 0;
    const error = await failure(send(get(new URL(`https://127.0.0.1:${tlsPort}/`)), options().sendOptions));
    expect(summary(error)).toEqual({
      kind: 'tls',
      message: `TLS with 127.0.0.1:${tlsPort} failed: self-signed certificate, DEPTH_ZERO_SELF_SIGNED_CERT.`,
      detail: 'self-signed certificate, DEPTH_ZERO_SELF_SIGNED_CERT',
      attempts: 1,
    });
    expect(tlsSeen).toEqual([]);
  });

  it('tunnels https through the proxy with CONNECT (child process trusting the cert via NODE_EXTRA_CA_CERTS)', async () => {
    tlsSeen.length = 0;
    const through = await proxy();
    const key = mintKey('live').value;
    const script = join(dir, 'send.mjs');
    writeFileSync(
      script,
      `globalThis.__SEKUIRE_VERSION__ = '9.9.9-child';
const { send } = await import(process.env.HTTP_MODULE);
const { DEFAULT_POLICY } = await import(process.env.POLICY_MODULE);
const { parseKey } = await import(process.env.KEY_MODULE);
const events = [];
try {
  const r = await send(
    { method: 'GET', url: new URL(process.env.TARGET), key: parseKey(process.env.KEY), headers: {}, retry: 'idempotent' },
    { policy: { ...DEFAULT_POLICY, retries: 0 }, env: process.env, onEvent: (e) => events.push(e) },
  );
  process.stdout.write(JSON.stringify({ status: r.status, body: r.body, events }));
} catch (error) {
  process.stdout.write(JSON.stringify({ kind: error.kind, message: error.message }));
}
`,
    );
    const env: Record<string, string | undefined> = { ...process.env };
    for (const name of Object.keys(env)) if (/_proxy$/i.test(name)) delete env[name];
    Object.assign(env, {
      NODE_EXTRA_CA_CERTS: certFile,
      HTTPS_PROXY: `http://user:pa%20ss@127.0.0.1:${through.port}`,
      HTTP_MODULE: pathToFileURL(join(process.cwd(), 'packages/cli/src/core/http/send.ts')).href,
      POLICY_MODULE: pathToFileURL(join(process.cwd(), 'packages/cli/src/core/http/policy.ts')).href,
      KEY_MODULE: pathToFileURL(join(process.cwd(), 'packages/shared/src/key.ts')).href,
      TARGET: `https://backend.test:${tlsPort}/api/v1/cli/status`,
      KEY: key,
    });
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', script], { env, timeout: 15_000 }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
      );
    });
    const result = JSON.parse(stdout) as { status: number; body: string; events: HttpEvent[] };
    expect({ status: result.status, body: result.body }).toEqual({ status: 200, body: '{"over":"tls"}' });
    expect(result.events[0]).toMatchObject({ type: 'request', proxy: `http://127.0.0.1:${through.port}` });
    expect(stdout).not.toContain(key);
    expect(stdout).not.toContain('pa%20ss');
    expect(through.seen).toEqual([
      {
        method: 'CONNECT',
        url: `backend.test:${tlsPort}`,
        headers: {
          host: `backend.test:${tlsPort}`,
          'proxy-authorization': `Basic ${Buffer.from('user:pa ss').toString('base64')}`,
          connection: 'close',
        },
      },
    ]);
    expect(
      tlsSeen.map((s) => [s.method, s.url, s.headers.host, s.headers['x-api-key'], s.headers['user-agent']]),
    ).toEqual([
      [
        'GET',
        '/api/v1/cli/status',
        `backend.test:${tlsPort}`,
        key,
        `sekuire/9.9.9-child node/${process.versions.node}`,
      ],
    ]);
    expect(tlsSeen[0]?.headers['proxy-authorization']).toBeUndefined();
  });

  it('reports a certificate the tunnelled backend cannot prove as tls', async () => {
    const through = await proxy();
    const env = { HTTPS_PROXY: `http://127.0.0.1:${through.port}` };
    const error = await failure(
      send(get(new URL(`https://backend.test:${tlsPort}/`)), options({}, { env }).sendOptions),
    );
    expect({ kind: error.kind, detail: error.detail, attempts: error.attempts }).toEqual({
      kind: 'tls',
      detail: 'self-signed certificate, DEPTH_ZERO_SELF_SIGNED_CERT',
      attempts: 1,
    });
    expect(through.seen.map((s) => `${s.method} ${s.url}`)).toEqual([`CONNECT backend.test:${tlsPort}`]);
  });

  // A 407 will not change on a retry; a 502 (the proxy could not reach the backend) may.
  it.each([
    [407, 1],
    [502, 2],
  ])('reports a proxy answering %i to CONNECT as proxy', async (status, attempts) => {
    const through = await proxy(status);
    const env = { HTTPS_PROXY: `127.0.0.1:${through.port}` };
    const { sendOptions } = options({ retries: 1 }, { env });
    const error = await failure(send(get(new URL(`https://backend.test:${tlsPort}/`)), sendOptions));
    expect(summary(error)).toEqual({
      kind: 'proxy',
      message: `The proxy 127.0.0.1:${through.port} answered HTTP ${status} to CONNECT backend.test:${tlsPort}.`,
      detail: `HTTP ${status}`,
      attempts,
    });
    expect(through.seen.length).toBe(attempts);
  });

  it('reports an unreachable proxy as proxy', async () => {
    const port = await closedPort();
    const env = { https_proxy: `http://127.0.0.1:${port}` };
    const error = await failure(
      send(get(new URL('https://backend.test/')), options({ retries: 0 }, { env }).sendOptions),
    );
    expect(summary(error)).toEqual({
      kind: 'proxy',
      message: `Cannot reach the proxy 127.0.0.1:${port}: connection refused.`,
      detail: 'connection refused',
      attempts: 1,
    });
  });

  it('bypasses the proxy for NO_PROXY and for loopback', async () => {
    const through = await proxy();
    const env = { HTTPS_PROXY: `http://127.0.0.1:${through.port}`, NO_PROXY: '.test' };
    const viaName = await failure(
      send(get(new URL(`https://backend.test:${tlsPort}/`)), options({}, { env }).sendOptions),
    );
    expect(viaName.kind).toBe('dns');
    const loopback = await failure(
      send(
        get(new URL(`https://127.0.0.1:${tlsPort}/`)),
        options({}, { env: { HTTPS_PROXY: env.HTTPS_PROXY } }).sendOptions,
      ),
    );
    expect(loopback.kind).toBe('tls');
    expect(through.seen).toEqual([]);
  });

  it('sends a plain http request to the proxy in absolute form', async () => {
    const through = await proxy();
    const env = { HTTP_PROXY: `http://127.0.0.1:${through.port}` };
    const { sendOptions, events } = options({}, { env });
    const response = await send(get(new URL('http://backend.test:8080/api/v1/x?y=1')), sendOptions);
    expect({ status: response.status, body: response.body }).toEqual({
      status: 200,
      body: '{"via":"proxy"}',
    });
    expect(through.seen.map((s) => [s.method, s.url, s.headers.host])).toEqual([
      ['GET', 'http://backend.test:8080/api/v1/x?y=1', 'backend.test:8080'],
    ]);
    expect(events[0]).toMatchObject({ proxy: `http://127.0.0.1:${through.port}` });
  });
});
