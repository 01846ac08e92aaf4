// HTTPS to the reference server: a self-signed CA trusted through NODE_EXTRA_CA_CERTS, and a real CONNECT proxy.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../helpers/cli.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { selfSignedCert } from '../helpers/tls.js';

let dir: string;
let cert: string;
let server: TestServer;
let port: number;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sekuire-tls-'));
  const made = selfSignedCert(dir, ['localhost', 'backend.test', '127.0.0.1']);
  cert = made.cert;
  server = await startServer({ tls: made });
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function machine(id: string, env: Record<string, string> = {}): Machine {
  const created = new Machine(id, env);
  cleanups.push(() => created.cleanup());
  return created;
}

/** A CONNECT proxy that sends `backend.test` to the reference server, or refuses with `status`. */
async function startProxy(status = 200) {
  const seen: { method: string; target: string; headers: IncomingMessage['headers'] }[] = [];
  const sockets = new Set<Socket>();
  const proxy = createServer((request, response) => {
    seen.push({ method: request.method ?? '', target: request.url ?? '', headers: request.headers });
    response.writeHead(502).end();
  });
  proxy.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  proxy.on('connect', (request: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push({ method: 'CONNECT', target: request.url ?? '', headers: request.headers });
    client.on('error', () => {});
    if (status !== 200 || request.url !== `backend.test:${port}`) {
      client.end(`HTTP/1.1 ${status === 200 ? 502 : status} Refused\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const upstream = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`, seen };
}

describe('TLS', () => {
  it('an untrusted certificate is exit 13, pointing at NODE_EXTRA_CA_CERTS', async () => {
    const { key } = await server.createKey();
    const m = machine('tls-untrusted');
    const run = await m.run(['login', '--with-key', '--backend', server.url], { input: key });
    expect(run.code).toBe(13);
    expect(run.stderr).toContain('Secure connection to the Sekuire backend');
    expect(run.stderr).toContain('NODE_EXTRA_CA_CERTS');
  });

  it('a custom CA in NODE_EXTRA_CA_CERTS is trusted: login, status, whoami over https', async () => {
    const { key } = await server.createKey();
    const m = machine('tls-trusted', { NODE_EXTRA_CA_CERTS: cert });
    expect((await m.run(['login', '--with-key', '--backend', server.url], { input: key })).code).toBe(0);
    expect((await m.run(['status'])).code).toBe(0);
    expect((await m.run(['auth', 'whoami'])).code).toBe(0);
    expect((await m.run(['logout'])).stdout).toContain(`This device was unbound on ${server.url}.`);
  });
});

describe('HTTPS_PROXY', () => {
  it('tunnels through CONNECT; the proxy sees the target, never the key', async () => {
    const { key } = await server.createKey();
    const proxy = await startProxy();
    const backend = `https://backend.test:${port}`;
    const m = machine('proxied', { NODE_EXTRA_CA_CERTS: cert, HTTPS_PROXY: proxy.url, SEKUIRE_API_KEY: key });
    const run = await m.run(['auth', 'test', '--url', backend, '--verbose']);
    expect(run.stderr).toContain(`> GET ${backend}/api/v1/cli/status via proxy ${proxy.url}`);
    expect(run.code).toBe(0);
    expect(proxy.seen.map((request) => `${request.method} ${request.target}`)).toEqual([
      `CONNECT backend.test:${port}`,
    ]);
    expect(JSON.stringify(proxy.seen)).not.toContain(key);
  });

  it('NO_PROXY sends the request direct, so backend.test (known only to the proxy) cannot be reached', async () => {
    const { key } = await server.createKey();
    const proxy = await startProxy();
    const m = machine('no-proxy', {
      NODE_EXTRA_CA_CERTS: cert,
      HTTPS_PROXY: proxy.url,
      NO_PROXY: '.test',
      SEKUIRE_API_KEY: key,
      // Without a network the resolver may wait instead of failing at once.
      SEKUIRE_TIMEOUT: '3',
    });
    const run = await m.run(['auth', 'test', '--url', `https://backend.test:${port}`]);
    expect(run.code).toBe(13);
    expect(run.stderr).toMatch(/does not resolve|No answer from the Sekuire backend/);
    expect(proxy.seen).toEqual([]);
  });

  it('a proxy that refuses CONNECT is exit 13 naming the proxy settings', async () => {
    const { key } = await server.createKey();
    const proxy = await startProxy(407);
    const m = machine('proxy-refuses', {
      NODE_EXTRA_CA_CERTS: cert,
      HTTPS_PROXY: proxy.url,
      SEKUIRE_API_KEY: key,
    });
    const run = await m.run(['auth', 'test', '--url', `https://backend.test:${port}`]);
    expect(run.code).toBe(13);
    expect(run.stderr).toContain('HTTP 407');
    expect(run.stderr).toContain('HTTPS_PROXY');
  });
});
