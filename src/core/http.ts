// The HTTP transport on node:http/net/tls: timeouts, retries, same-origin redirects, CONNECT proxies.
import { lookup as dnsLookup } from 'node:dns';
import { type EventEmitter, once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { isIP, type LookupFunction, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { isLoopbackHost, originOf, plainHttpRefusal, sameOrigin } from './backend-url.js';
import { UsageError } from './errors.js';
import type { Env } from './home.js';
import { parseKey } from './key.js';
import { proxyFor } from './proxy.js';

export interface NetworkPolicy {
  /** TCP connect, proxy CONNECT and TLS handshake of one attempt. */
  connectTimeoutMs: number;
  /** One attempt, from connecting to the last byte of the answer. */
  attemptTimeoutMs: number;
  /** All attempts and the waits between them. */
  deadlineMs: number;
  /** Attempts after the first. */
  retries: number;
  retryAfterCapMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  maxBodyBytes: number;
  maxRedirects: number;
}

export const DEFAULT_POLICY: NetworkPolicy = Object.freeze({
  connectTimeoutMs: 5000,
  attemptTimeoutMs: 10_000,
  deadlineMs: 25_000,
  retries: 2,
  retryAfterCapMs: 10_000,
  backoffBaseMs: 250,
  backoffCapMs: 2000,
  maxBodyBytes: 1024 * 1024,
  maxRedirects: 3,
});

// Above this, setTimeout overflows; nobody waits an hour for an auth check anyway.
const MAX_SECONDS = 3600;
const MAX_RETRIES = 10;

function shown(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: they must not reach the terminal.
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}...` : clean;
}

function seconds(env: Env, name: string): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  const value = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
  if (!(value > 0 && value <= MAX_SECONDS)) {
    throw new UsageError(
      `${name} must be a number of seconds above 0 and at most ${MAX_SECONDS} (decimals allowed, e.g. 2.5); got "${shown(text)}".`,
      'invalid_env',
      { variable: name },
    );
  }
  return Math.max(1, Math.round(value * 1000));
}

/** The policy with SEKUIRE_TIMEOUT, SEKUIRE_CONNECT_TIMEOUT and SEKUIRE_RETRIES applied. */
export function policyFromEnv(env: Env): NetworkPolicy {
  const deadlineMs = seconds(env, 'SEKUIRE_TIMEOUT') ?? DEFAULT_POLICY.deadlineMs;
  const connectMs = seconds(env, 'SEKUIRE_CONNECT_TIMEOUT') ?? DEFAULT_POLICY.connectTimeoutMs;
  let retries = DEFAULT_POLICY.retries;
  const retriesText = env.SEKUIRE_RETRIES?.trim();
  if (retriesText) {
    retries = /^\d+$/.test(retriesText) ? Number(retriesText) : Number.NaN;
    if (!(retries <= MAX_RETRIES)) {
      throw new UsageError(
        `SEKUIRE_RETRIES must be a whole number from 0 to ${MAX_RETRIES}; got "${shown(retriesText)}".`,
        'invalid_env',
        { variable: 'SEKUIRE_RETRIES' },
      );
    }
  }
  const attemptTimeoutMs = Math.min(DEFAULT_POLICY.attemptTimeoutMs, deadlineMs);
  return {
    ...DEFAULT_POLICY,
    deadlineMs,
    attemptTimeoutMs,
    connectTimeoutMs: Math.min(connectMs, attemptTimeoutMs),
    retries,
  };
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** 'unsent-only': repeat only what certainly did not reach the server (and 429). */
  retry: 'idempotent' | 'unsent-only';
}

export interface HttpResponse {
  status: number;
  /** Lowercase names; repeated headers joined with ', '. */
  headers: Record<string, string | undefined>;
  body: string;
  /** From the start of the first attempt to the end of the last answer. */
  elapsedMs: number;
  /** Requests made, counting retries and followed redirects. */
  attempts: number;
}

export type NetworkErrorKind =
  | 'dns'
  | 'refused'
  | 'connect_timeout'
  | 'timeout'
  | 'reset'
  | 'tls'
  | 'proxy'
  | 'redirect'
  | 'too_large'
  | 'deadline'
  | 'other';

/** No answer to use. The message and detail never contain header values. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
  constructor(
    readonly kind: NetworkErrorKind,
    message: string,
    readonly attempts: number,
    readonly detail?: string,
  ) {
    super(message);
  }
}

export type HttpEvent =
  | {
      type: 'request';
      method: string;
      url: string;
      attempt: number;
      /** Already redacted. */
      headers: Record<string, string>;
      /** The proxy's origin, without credentials. */
      proxy?: string;
    }
  /** elapsedMs: this attempt only. */
  | { type: 'response'; status: number; elapsedMs: number; attempt: number }
  /** attempt: the one that failed. */
  | { type: 'retry'; attempt: number; delayMs: number; reason: string }
  /** followed: false only for another origin; other refused redirects show only as the error. */
  | { type: 'redirect'; from: string; to: string; followed: boolean };

export interface SendOptions {
  policy: NetworkPolicy;
  env: Env;
  onEvent?: (event: HttpEvent) => void;
  /** Test seam: the backoff's randomness. */
  random?: () => number;
  /** Test seam: the wait between attempts. */
  sleep?: (ms: number) => Promise<void>;
}

const SECRET_HEADERS = new Set(['x-api-key', 'authorization', 'proxy-authorization', 'cookie']);

function maskSecret(value: string): string {
  try {
    return parseKey(value).masked;
  } catch {
    return '[redacted]';
  }
}

/** A copy for logs: credentials masked (sk_live_abc...xyz for a key, else [redacted]); the scheme kept. */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!SECRET_HEADERS.has(lower)) {
      out[name] = value;
      continue;
    }
    const scheme = lower === 'x-api-key' || lower === 'cookie' ? null : /^(\S+)\s+(\S.*)$/.exec(value.trim());
    out[name] = scheme ? `${scheme[1]} ${maskSecret(scheme[2] ?? '')}` : maskSecret(value);
  }
  return out;
}

const USER_AGENT = `sekuire/${typeof __SEKUIRE_VERSION__ === 'string' ? __SEKUIRE_VERSION__ : 'dev'} node/${process.versions.node}`;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const RETRY_STATUSES = { idempotent: new Set([429, 502, 503, 504]), 'unsent-only': new Set([429]) } as const;

/** An attempt that did not produce an answer; `sent` says whether the server may have seen the request. */
class Failure {
  constructor(
    readonly kind: NetworkErrorKind,
    readonly message: string,
    readonly sent: boolean,
    readonly transient: boolean,
    readonly detail?: string,
  ) {}
}

interface Cause {
  readonly kind: NetworkErrorKind;
  readonly text: string;
  readonly transient: boolean;
}

const CAUSES: Readonly<Record<string, Cause>> = {
  ENOTFOUND: { kind: 'dns', text: 'host name not found', transient: false },
  EAI_NONAME: { kind: 'dns', text: 'host name not found', transient: false },
  EAI_NODATA: { kind: 'dns', text: 'host name has no address', transient: false },
  EAI_FAIL: { kind: 'dns', text: 'name resolution failed', transient: false },
  EAI_AGAIN: { kind: 'dns', text: 'temporary name resolution failure', transient: true },
  ECONNREFUSED: { kind: 'refused', text: 'connection refused', transient: true },
  ECONNRESET: { kind: 'reset', text: 'connection reset', transient: true },
  ECONNABORTED: { kind: 'reset', text: 'connection aborted', transient: true },
  EPIPE: { kind: 'reset', text: 'connection closed while sending', transient: true },
  ERR_STREAM_PREMATURE_CLOSE: { kind: 'reset', text: 'connection closed early', transient: true },
  ETIMEDOUT: { kind: 'connect_timeout', text: 'connection timed out', transient: true },
  ENETUNREACH: { kind: 'other', text: 'network is unreachable', transient: true },
  ENETDOWN: { kind: 'other', text: 'network is down', transient: true },
  EHOSTUNREACH: { kind: 'other', text: 'host is unreachable', transient: true },
  EHOSTDOWN: { kind: 'other', text: 'host is down', transient: true },
  ENOTLOOPBACK: { kind: 'other', text: 'name does not resolve to a loopback address', transient: false },
};

const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|CRL_|UNABLE_TO_|ERROR_IN_C|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|INVALID_CA$|PATH_LENGTH_EXCEEDED$|INVALID_PURPOSE$|HOSTNAME_MISMATCH$)/;

function causeOf(error: unknown): Cause & { code?: string } {
  const raw = (error as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' ? raw : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const known = code === undefined ? undefined : CAUSES[code];
  if (known) return { ...known, code };
  if ((code !== undefined && TLS_CODE.test(code)) || /unable to get local issuer/i.test(message)) {
    return { kind: 'tls', text: message, transient: false, code };
  }
  if (/socket hang up/i.test(message)) return { ...(CAUSES.ECONNRESET as Cause), code };
  return { kind: 'other', text: message, transient: false, code };
}

interface Endpoint {
  /** Without IPv6 brackets: what net.connect and tls take. */
  readonly host: string;
  readonly port: number;
  /** host:port as written in a URL and in CONNECT. */
  readonly authority: string;
}

function endpointOf(url: URL): Endpoint {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, authority: `${url.hostname}:${port}` };
}

/** Where an attempt is: decides which error kind a socket error becomes, and whether it was sent. */
type Stage = 'proxy' | 'tunnel' | 'connect' | 'tls' | 'request';

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
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
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

interface Hop {
  readonly method: 'GET' | 'POST';
  readonly url: URL;
  readonly body?: string;
}

interface Raw {
  readonly status: number;
  readonly headers: Record<string, string | undefined>;
  readonly body: string;
}

interface Limits {
  readonly connectMs: number;
  readonly budgetMs: number;
  /** 'deadline' when the total deadline, not the attempt timeout, is what cuts this attempt short. */
  readonly budgetKind: 'timeout' | 'deadline';
  readonly maxBodyBytes: number;
}

function describeFailure(
  error: unknown,
  stage: Stage,
  target: Endpoint,
  proxy: Endpoint | undefined,
): Failure {
  const cause = causeOf(error);
  if (stage === 'proxy' || stage === 'tunnel') {
    const where = proxy ? proxy.authority : 'the proxy';
    const message =
      stage === 'proxy'
        ? `Cannot reach the proxy ${where}: ${cause.text}.`
        : `The proxy ${where} failed during CONNECT to ${target.authority}: ${cause.text}.`;
    return new Failure('proxy', message, false, cause.transient, cause.text);
  }
  const sent = stage === 'request';
  const code = cause.code ? ` (${cause.code})` : '';
  switch (cause.kind) {
    case 'dns':
      return new Failure(
        'dns',
        `Cannot resolve ${target.host}: ${cause.text}${code}.`,
        false,
        cause.transient,
        cause.code,
      );
    case 'refused':
      return new Failure('refused', `Connection to ${target.authority} refused.`, false, true, cause.code);
    case 'reset':
      return new Failure(
        'reset',
        `The connection to ${target.authority} was reset: ${cause.text}${code}.`,
        sent,
        true,
        cause.code,
      );
    case 'connect_timeout':
      // ETIMEDOUT once connected is the kernel giving up on an established connection.
      return sent
        ? new Failure(
            'timeout',
            `The connection to ${target.authority} timed out${code}.`,
            true,
            true,
            cause.code,
          )
        : new Failure(
            'connect_timeout',
            `Connecting to ${target.authority} timed out${code}.`,
            false,
            true,
            cause.code,
          );
    case 'tls': {
      const detail = cause.code && cause.code !== cause.text ? `${cause.text}, ${cause.code}` : cause.text;
      return new Failure('tls', `TLS with ${target.authority} failed: ${detail}.`, sent, false, detail);
    }
    default:
      return new Failure('other', `${cause.text}${code}`, sent, cause.transient, cause.code);
  }
}

function proxyAuthorization(proxy: URL): string | undefined {
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
  const connect = attempt.track(
    httpRequest({
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
    tlsConnect({
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

async function readCapped(response: IncomingMessage, max: number, tooLarge: () => Failure): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

async function runAttempt(
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
  attempt.after(limits.budgetMs, () =>
    limits.budgetKind === 'deadline'
      ? new Failure(
          'deadline',
          `No answer from ${target.authority} before the deadline.`,
          attempt.stage === 'request',
          false,
        )
      : new Failure(
          'timeout',
          `No complete answer from ${target.authority} within ${limits.budgetMs} ms.`,
          attempt.stage === 'request',
          true,
        ),
  );
  const connectTimer = attempt.after(limits.connectMs, () =>
    attempt.stage === 'proxy'
      ? new Failure(
          'proxy',
          `Cannot reach the proxy ${proxy?.authority}: no connection within ${limits.connectMs} ms.`,
          false,
          true,
          'connection timed out',
        )
      : new Failure(
          'connect_timeout',
          `No connection to ${target.authority} within ${limits.connectMs} ms.`,
          false,
          true,
        ),
  );
  try {
    const socket = await open(attempt, hop.url, target, proxyUrl);
    clearTimeout(connectTimer);
    attempt.stage = 'request';
    // Through a proxy, a plain http request names the whole URL (absolute form).
    const path =
      proxyUrl && hop.url.protocol === 'http:' ? hop.url.href : `${hop.url.pathname}${hop.url.search}`;
    const request = attempt.track(
      httpRequest({ method: hop.method, path, headers, setHost: false, createConnection: () => socket }),
    );
    request.end(hop.body);
    const [response] = (await attempt.wait(once(request, 'response'))) as [IncomingMessage];
    const status = response.statusCode ?? 0;
    const responseHeaders = headersOf(response.rawHeaders);
    const declared = Number(responseHeaders['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBodyBytes) throw attempt.fail(tooLarge());
    const body = await attempt.wait(readCapped(response, limits.maxBodyBytes, tooLarge));
    return { status, headers: responseHeaders, body: new TextDecoder().decode(body) } satisfies Raw;
  } catch (error) {
    throw attempt.failWith(error);
  } finally {
    attempt.close();
  }
}

function put(headers: Record<string, string>, name: string, value: string): void {
  for (const existing of Object.keys(headers)) {
    if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
  }
  headers[name] = value;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((existing) => existing.toLowerCase() === name);
}

function headersFor(
  hop: Hop,
  caller: Record<string, string>,
  proxy: URL | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {
    Host: hop.url.host,
    Accept: 'application/json',
    'User-Agent': USER_AGENT,
  };
  for (const [name, value] of Object.entries(caller)) put(headers, name, value);
  if (hop.body !== undefined) {
    if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/json';
    put(headers, 'Content-Length', String(Buffer.byteLength(hop.body)));
  } else {
    for (const name of Object.keys(headers)) {
      if (/^content-(type|length)$/i.test(name)) delete headers[name];
    }
  }
  const authorization = proxy && hop.url.protocol === 'http:' ? proxyAuthorization(proxy) : undefined;
  if (authorization) put(headers, 'Proxy-Authorization', authorization);
  // One request per process: nothing to keep alive, and no socket left to hold the process open.
  put(headers, 'Connection', 'close');
  return headers;
}

/** Milliseconds to wait from a Retry-After value (seconds or an HTTP date); undefined when absent or unreadable. */
function retryAfterMs(value: string | undefined, now: number): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}

/** Header values that must never appear in an error, in any form a message could quote them. */
function secretsOf(headers: Record<string, string>): string[] {
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!SECRET_HEADERS.has(name.toLowerCase())) continue;
    for (const part of [value, ...value.split(/\s+/)]) if (part.length >= 8) secrets.push(part);
  }
  return secrets.sort((a, b) => b.length - a.length);
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends one request with the policy's timeouts, retries and redirects. Resolves with any HTTP
 * answer (the caller maps statuses); rejects with NetworkError when there is none to give.
 */
export async function send(request: HttpRequest, options: SendOptions): Promise<HttpResponse> {
  const { policy } = options;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  const emit = options.onEvent ?? (() => {});
  const { url } = request;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(
      `Cannot send a request to a ${url.protocol} URL; only https:// and http:// are supported.`,
    );
  }
  const secrets = secretsOf(request.headers);
  if (url.protocol === 'http:' && secrets.length > 0 && !isLoopbackHost(url.hostname)) {
    throw plainHttpRefusal(url, 'the request');
  }
  const proxy = proxyFor(url, options.env);
  const failed = (failure: Failure, attempts: number) =>
    new NetworkError(
      failure.kind,
      scrub(failure.message, secrets),
      attempts,
      failure.detail === undefined ? undefined : scrub(failure.detail, secrets),
    );
  const started = performance.now();
  const deadlineAt = started + policy.deadlineMs;
  const backoff = (retry: number) =>
    Math.round(random() * Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** (retry - 1)));
  let hop: Hop = { method: request.method, url, body: request.body };
  let attempts = 0;
  let retries = 0;
  let redirects = 0;
  for (;;) {
    const remaining = deadlineAt - performance.now();
    if (remaining <= 0) {
      throw new NetworkError(
        'deadline',
        `No answer from ${originOf(url)} within ${policy.deadlineMs} ms.`,
        attempts,
      );
    }
    attempts++;
    const headers = headersFor(hop, request.headers, proxy);
    emit({
      type: 'request',
      method: hop.method,
      url: hop.url.href,
      attempt: attempts,
      headers: redactHeaders(headers),
      ...(proxy ? { proxy: originOf(proxy) } : {}),
    });
    const attemptStarted = performance.now();
    let raw: Raw;
    try {
      raw = await runAttempt(hop, headers, proxy, {
        connectMs: Math.min(policy.connectTimeoutMs, remaining),
        budgetMs: Math.min(policy.attemptTimeoutMs, remaining),
        budgetKind: remaining < policy.attemptTimeoutMs ? 'deadline' : 'timeout',
        maxBodyBytes: policy.maxBodyBytes,
      });
    } catch (error) {
      if (!(error instanceof Failure)) throw error;
      const repeatable = error.transient && (!error.sent || request.retry === 'idempotent');
      const delay = backoff(retries + 1);
      // Never sleep past the deadline: the last real error says more than "deadline" would.
      if (!repeatable || retries >= policy.retries || performance.now() + delay >= deadlineAt) {
        throw failed(error, attempts);
      }
      emit({ type: 'retry', attempt: attempts, delayMs: delay, reason: scrub(error.message, secrets) });
      await sleep(delay);
      retries++;
      continue;
    }
    emit({
      type: 'response',
      status: raw.status,
      elapsedMs: Math.round(performance.now() - attemptStarted),
      attempt: attempts,
    });

    const location = raw.headers.location;
    if (REDIRECT_STATUSES.has(raw.status) && location !== undefined) {
      const from = originOf(hop.url);
      let to: URL;
      try {
        to = new URL(location, hop.url);
      } catch {
        throw new NetworkError(
          'redirect',
          `The backend at ${from} answered HTTP ${raw.status} with an invalid Location.`,
          attempts,
        );
      }
      const refuse = (message: string) =>
        new NetworkError('redirect', message, attempts, `HTTP ${raw.status}`);
      // Checked before anything else: the key must never reach another origin, even once.
      if (!sameOrigin(to, hop.url)) {
        emit({ type: 'redirect', from: hop.url.href, to: to.href, followed: false });
        throw refuse(`The backend at ${from} redirected to another origin (${originOf(to)}).`);
      }
      if (hop.method === 'POST' && (raw.status === 301 || raw.status === 302)) {
        throw refuse(
          `The backend at ${from} answered a POST with HTTP ${raw.status}, a redirect that would turn it into a GET; not following it.`,
        );
      }
      if (redirects >= policy.maxRedirects) {
        throw refuse(`The backend at ${from} redirected more than ${policy.maxRedirects} times.`);
      }
      redirects++;
      emit({ type: 'redirect', from: hop.url.href, to: to.href, followed: true });
      to.hash = '';
      hop = raw.status === 303 ? { method: 'GET', url: to } : { ...hop, url: to };
      continue;
    }

    if (RETRY_STATUSES[request.retry].has(raw.status) && retries < policy.retries) {
      const after = retryAfterMs(raw.headers['retry-after'], Date.now());
      // A longer Retry-After than we are willing to wait: hand the answer back instead.
      if (after === undefined || after <= policy.retryAfterCapMs) {
        const delay = after ?? backoff(retries + 1);
        if (performance.now() + delay < deadlineAt) {
          emit({ type: 'retry', attempt: attempts, delayMs: delay, reason: `HTTP ${raw.status}` });
          await sleep(delay);
          retries++;
          continue;
        }
      }
    }
    return { ...raw, elapsedMs: Math.round(performance.now() - started), attempts };
  }
}
