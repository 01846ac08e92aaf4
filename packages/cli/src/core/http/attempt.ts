// One attempt: connect (through a proxy, with TLS), send, read a capped answer; every way out closes it all.
import { type EventEmitter, once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { isIP, type LookupFunction, connect as netConnect, type Socket } from 'node:net';
import { isLoopbackHost } from '../backend-url.js';
import { describeFailure, type Endpoint, endpointOf, Failure, type Limit, type Stage } from './failures.js';
import { formatDuration } from './policy.js';
import { readResponse, requestBytes } from './wire.js';

/** One attempt's sockets, requests and timers, so that every way out of it destroys them all. */
class Attempt {
  stage: Stage;
  private readonly resources: Array<{ destroy(): unknown }> = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private failure: Failure | undefined;
  private closed = false;
  private abort: (failure: Failure) => void = () => {};
  private readonly aborted: Promise<never>;

  constructor(
    stage: Stage,
    private readonly describe: (error: unknown, stage: Stage) => Failure,
  ) {
    this.stage = stage;
    this.aborted = new Promise<never>((_, reject) => {
      this.abort = reject;
    });
    // Only wait() listens, and there may be no wait() pending when a late error arrives.
    this.aborted.catch(() => {});
  }

  /** The first failure wins; everything open is destroyed at once. */
  fail(failure: Failure): Failure {
    if (this.failure === undefined && !this.closed) {
      this.failure = failure;
      this.abort(failure);
      this.close();
    }
    return this.failure ?? failure;
  }

  failWith(error: unknown): Failure {
    return this.fail(error instanceof Failure ? error : this.describe(error, this.stage));
  }

  /** Keeps an 'error' listener for good: a late socket error must not crash the process. */
  track<T extends EventEmitter & { destroy(): unknown }>(resource: T): T {
    this.resources.push(resource);
    resource.on('error', (error: unknown) => this.failWith(error));
    return resource;
  }

  after(ms: number, failure: () => Failure): NodeJS.Timeout {
    const timer = setTimeout(() => this.fail(failure()), ms);
    this.timers.push(timer);
    return timer;
  }

  async wait<T>(promise: Promise<T>): Promise<T> {
    try {
      return await Promise.race([promise, this.aborted]);
    } catch (error) {
      throw this.failWith(error);
    }
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const resource of this.resources) resource.destroy();
  }
}

/**
 * Plain http goes only to loopback; a *.localhost name must really resolve there, or the key
 * would travel in clear text to wherever a resolver points it.
 */
const loopbackOnly: LookupFunction = (hostname, options, callback) => {
  // node:dns and node:tls are loaded when needed (a name to resolve, an https URL): `status`
  // against a local backend by address needs neither, and each costs start-up time.
  process.getBuiltinModule('node:dns').lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, '');
    const first = addresses[0];
    if (!first || addresses.some((entry) => !isLoopbackHost(entry.address))) {
      const refusal: NodeJS.ErrnoException = new Error(`${hostname} does not resolve to a loopback address`);
      refusal.code = 'ENOTLOOPBACK';
      return callback(refusal, '');
    }
    if (options.all) return callback(null, addresses);
    return callback(null, first.address, first.family);
  });
};

export interface Hop {
  readonly method: string;
  readonly url: URL;
  readonly body?: string | Buffer;
}

export interface Raw {
  readonly status: number;
  readonly headers: Record<string, string | undefined>;
  readonly body: string;
  /** The body as it came, for `sekuire api` (binary answers); absent from test seams. */
  readonly bytes?: Buffer;
  /** The reason phrase (`OK`), when the server sent one. */
  readonly statusText?: string;
}

export interface Limits {
  /** How long the connect phase may take, and the limit that sets it (connect timeout or deadline). */
  readonly connectMs: number;
  readonly connectLimit: Limit;
  /** How long the whole attempt may take, and the limit that sets it (attempt timeout or deadline). */
  readonly budgetMs: number;
  readonly budgetLimit: Limit;
  readonly maxBodyBytes: number;
}

export function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === '' && proxy.password === '') return undefined;
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  return `Basic ${Buffer.from(`${decode(proxy.username)}:${decode(proxy.password)}`).toString('base64')}`;
}

/** CONNECT through the proxy; on 200 the socket is a raw pipe to the target. */
async function tunnel(
  attempt: Attempt,
  tcp: Socket,
  target: Endpoint,
  proxy: Endpoint,
  proxyUrl: URL,
): Promise<void> {
  attempt.stage = 'tunnel';
  const headers: Record<string, string> = { Host: target.authority };
  const authorization = proxyAuthorization(proxyUrl);
  if (authorization) headers['Proxy-Authorization'] = authorization;
  // node:http only here, for a proxy's CONNECT: the request itself is written by wire.ts.
  const connect = attempt.track(
    process.getBuiltinModule('node:http').request({
      method: 'CONNECT',
      path: target.authority,
      headers,
      setHost: false,
      createConnection: () => tcp,
    }),
  );
  connect.end();
  const [response, , head] = (await attempt.wait(once(connect, 'connect'))) as [
    IncomingMessage,
    Socket,
    Buffer,
  ];
  const status = response.statusCode ?? 0;
  if (status !== 200) {
    throw attempt.fail(
      new Failure(
        'proxy',
        `The proxy ${proxy.authority} answered HTTP ${status} to CONNECT ${target.authority}.`,
        false,
        status >= 500,
        `HTTP ${status}`,
      ),
    );
  }
  if (head.length > 0) tcp.unshift(head);
}

/** A connected socket to the target (through the proxy when there is one), TLS done when https. */
async function open(
  attempt: Attempt,
  url: URL,
  target: Endpoint,
  proxyUrl: URL | undefined,
): Promise<Socket> {
  const secure = url.protocol === 'https:';
  const proxy = proxyUrl ? endpointOf(proxyUrl) : undefined;
  const first = proxy ?? target;
  const guardName = !proxy && !secure && isIP(target.host) === 0;
  const tcp = attempt.track(
    netConnect({
      host: first.host,
      port: first.port,
      noDelay: true,
      ...(guardName ? { lookup: loopbackOnly } : {}),
    }),
  );
  await attempt.wait(once(tcp, 'connect'));
  if (proxy && proxyUrl && secure) await tunnel(attempt, tcp, target, proxy, proxyUrl);
  if (!secure) return tcp;
  attempt.stage = 'tls';
  // No `ca`: the default store, which includes NODE_EXTRA_CA_CERTS read at start-up.
  const tls = attempt.track(
    process.getBuiltinModule('node:tls').connect({
      socket: tcp,
      host: target.host,
      ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
      ALPNProtocols: ['http/1.1'],
    }),
  );
  await attempt.wait(once(tls, 'secureConnect'));
  return tls;
}

function headersOf(raw: readonly string[]): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = Object.create(null);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    const value = raw[i + 1] ?? '';
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
  }
  return headers;
}

export async function runAttempt(
  hop: Hop,
  headers: Record<string, string>,
  proxyUrl: URL | undefined,
  limits: Limits,
) {
  const target = endpointOf(hop.url);
  const proxy = proxyUrl ? endpointOf(proxyUrl) : undefined;
  const attempt = new Attempt(proxy ? 'proxy' : 'connect', (error, stage) =>
    describeFailure(error, stage, target, proxy),
  );
  const tooLarge = () =>
    new Failure(
      'too_large',
      `The answer from ${target.authority} is larger than ${limits.maxBodyBytes} bytes.`,
      true,
      false,
      `over ${limits.maxBodyBytes} bytes`,
    );
  attempt.after(limits.budgetMs, () => {
    const { budgetLimit: limit } = limits;
    const sent = attempt.stage === 'request';
    return limit.name === 'deadline'
      ? new Failure(
          'deadline',
          `No answer from ${target.authority} before the ${formatDuration(limit.ms)} deadline.`,
          sent,
          false,
          undefined,
          limit,
        )
      : new Failure(
          'timeout',
          `No complete answer from ${target.authority} within ${formatDuration(limit.ms)}.`,
          sent,
          true,
          undefined,
          limit,
        );
  });
  const connectTimer = attempt.after(limits.connectMs, () => {
    const { connectLimit: limit } = limits;
    if (attempt.stage === 'proxy') {
      return new Failure(
        'proxy',
        `Cannot reach the proxy ${proxy?.authority}: no connection within ${formatDuration(limits.connectMs)}.`,
        false,
        true,
        'connection timed out',
        limit,
      );
    }
    return limit.name === 'deadline'
      ? new Failure(
          'deadline',
          `No connection to ${target.authority} before the ${formatDuration(limit.ms)} deadline.`,
          false,
          false,
          undefined,
          limit,
        )
      : new Failure(
          'connect_timeout',
          `No connection to ${target.authority} within ${formatDuration(limit.ms)}.`,
          false,
          true,
          undefined,
          limit,
        );
  });
  try {
    const socket = await open(attempt, hop.url, target, proxyUrl);
    clearTimeout(connectTimer);
    attempt.stage = 'request';
    // Through a proxy, a plain http request names the whole URL (absolute form).
    const path =
      proxyUrl && hop.url.protocol === 'http:' ? hop.url.href : `${hop.url.pathname}${hop.url.search}`;
    const bytes = requestBytes(hop.method, path, headers, hop.body);
    let responseHeaders: Record<string, string | undefined> = {};
    const answer = readResponse(socket, hop.method, {
      maxBody: limits.maxBodyBytes,
      tooLarge,
      onHead: (_status, rawHeaders) => {
        responseHeaders = headersOf(rawHeaders);
        const declared = Number(responseHeaders['content-length']);
        if (Number.isFinite(declared) && declared > limits.maxBodyBytes) throw tooLarge();
      },
    });
    socket.write(bytes);
    const { status, statusText, body } = await attempt.wait(answer);
    return {
      status,
      headers: responseHeaders,
      body: new TextDecoder().decode(body),
      bytes: body,
      statusText,
    } satisfies Raw;
  } catch (error) {
    throw attempt.failWith(error);
  } finally {
    attempt.close();
  }
}
