// `start` as a process: ready turns 503 at SIGTERM while a request in flight still completes, then exit 0; its operations flags.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_PATH } from '../helpers/server.js';

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'sekuire-stopping-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr contains `text`. */
  stderrHas(text: string): Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function environment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SEKUIRE_SERVER_')) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Spawns `start` on port 0 and resolves once the Listening line and those before the notes are out. */
async function start(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const db = join(mkdtempSync(join(scratch, 'db-')), 'sekuire.db');
  const child = spawn(process.execPath, [SERVER_PATH, 'start', '--port', '0', '--db', db, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: environment(env),
  });
  let stdout = '';
  let stderr = '';
  const waiting: { text: string; resolve: () => void }[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const waiter of waiting.splice(0)) {
      if (stderr.includes(waiter.text)) waiter.resolve();
      else waiting.push(waiter);
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const found = /^Nobody can sign in yet/m.test(stdout) && /^Listening on (\S+)$/m.exec(stdout)?.[1];
      if (found) resolve(found);
    });
    void exit.then(({ code }) => reject(new Error(`start exited ${code}: ${stderr}`)));
  });
  return {
    child,
    url,
    stdout: () => stdout,
    stderr: () => stderr,
    stderrHas: (text) =>
      stderr.includes(text) ? Promise.resolve() : new Promise((resolve) => waiting.push({ text, resolve })),
    exit,
  };
}

/** The JSON lines of the log on stderr (the notes at start are plain text). */
function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The request lines (the log also says, once, where Fastify listens). */
function requestLines(stderr: string): Record<string, unknown>[] {
  return logLines(stderr).filter((line) => line.msg === 'request');
}

/** Sends a request's headers with Expect: 100-continue; resolves once the server has taken it in. */
function startSlowRequest(url: string, body: string): Promise<{ socket: Socket; answer: Promise<string> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
    });
    socket.on('close', () => resolve(received));
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(
        `POST /api/v1/auth/login HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      );
    });
    // Node answers 100 Continue in the same turn it hands the request to the app: it is in flight.
    socket.once('data', (chunk) => {
      if (chunk.toString('utf8').startsWith('HTTP/1.1 100 Continue')) resolve({ socket, answer });
      else reject(new Error(`expected 100 Continue, got ${chunk.toString('utf8')}`));
    });
  });
}

describe('stopping', () => {
  it('SIGTERM: ready answers 503 at once, other requests are still served, the one in flight completes, exit 0', async () => {
    const server = await start([]);
    const ready = await fetch(`${server.url}/api/v1/ready`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);

    const body = JSON.stringify({ email: 'nobody@example.com', password: 'not a password at all' });
    const slow = await startSlowRequest(server.url, body);
    server.child.kill('SIGTERM');
    await server.stderrHas('Received SIGTERM, shutting down\n');

    const stopping = await fetch(`${server.url}/api/v1/ready`);
    expect([stopping.status, await stopping.json()]).toEqual([
      503,
      { error: 'service_unavailable', message: 'The server is shutting down.' },
    ]);
    expect((await fetch(`${server.url}/api/v1/health`)).status).toBe(200);

    slow.socket.write(body);
    const answer = await slow.answer;
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 401 Unauthorized\r\n/);
    expect(answer).toContain('{"error":"invalid_credentials","message":"Wrong email or password."}');
    expect(await server.exit).toEqual({ code: 0, signal: null });
    await expect(fetch(`${server.url}/api/v1/health`)).rejects.toThrow();
    expect(requestLines(server.stderr()).map((line) => [line.method, line.route, line.status])).toEqual([
      ['GET', '/api/v1/ready', 200],
      ['GET', '/api/v1/ready', 503],
      ['GET', '/api/v1/health', 200],
      ['POST', '/api/v1/auth/login', 401],
    ]);
  });
});

describe('operations flags', () => {
  it('--metrics-port serves /metrics on a port of its own, and the API port has none', async () => {
    const server = await start(['--metrics-port', '0', '--log-level', 'silent']);
    try {
      const metricsUrl = /^Metrics: (\S+)$/m.exec(server.stdout())?.[1] ?? 'no Metrics line';
      expect(server.stdout().split('\n').slice(0, 3)).toEqual([
        `Listening on ${server.url}`,
        `Dashboard: ${server.url}/dashboard`,
        `Metrics: ${metricsUrl}`,
      ]);
      expect((await fetch(`${server.url}/api/v1/health`)).status).toBe(200);
      const scrape = await fetch(metricsUrl);
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain(
        'sekuire_http_requests_total{method="GET",route="/api/v1/health",status="200"} 1\n',
      );
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
      expect((await fetch(new URL('/other', metricsUrl))).status).toBe(404);
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exit).toEqual({ code: 0, signal: null });
    }
    // silent: the notes at start are the only text on stderr.
    expect(logLines(server.stderr())).toEqual([]);
  });

  it('SEKUIRE_SERVER_LOG_LEVEL sets the level; --log-level wins', async () => {
    const quiet = await start([], { SEKUIRE_SERVER_LOG_LEVEL: 'warn' });
    const loud = await start(['--log-level', 'info'], { SEKUIRE_SERVER_LOG_LEVEL: 'warn' });
    for (const server of [quiet, loud]) {
      expect((await fetch(`${server.url}/api/v1/health`)).status).toBe(200);
      server.child.kill('SIGTERM');
      expect(await server.exit).toEqual({ code: 0, signal: null });
    }
    expect(logLines(quiet.stderr())).toEqual([]);
    expect(requestLines(loud.stderr())).toHaveLength(1);
  });

  it.each([
    [
      ['--log-level', 'loud'],
      'error: --log-level must be one of trace, debug, info, warn, error, silent, not "loud".\n',
    ],
    [
      ['--metrics', '--metrics-port', '9100'],
      'error: --metrics and --metrics-port exclude each other: /metrics is served on one port.\n',
    ],
    [
      ['--metrics-port', 'x'],
      'error: --metrics-port must be a port number from 0 to 65535 (0 picks a free port), not "x".\n',
    ],
  ])('%j -> exit 2 before listening', async (args, message) => {
    const child = spawn(
      process.execPath,
      [SERVER_PATH, 'start', '--db', join(scratch, 'flags.db'), ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: environment({}),
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect({ code, stdout, stderr }).toEqual({ code: 2, stdout: '', stderr: message });
  });
});
