// The send loop: attempts within the deadline, retries with jitter, same-origin redirects, events for --verbose.

import type { ApiKey } from '@sekuire/shared/key';
import { isLoopbackHost, originOf, plainHttpRefusal, sameOrigin } from '../backend-url.js';
import { UsageError } from '../errors.js';
import type { Env } from '../home.js';
import { proxyFor } from '../proxy.js';
import { type Hop, type Limits, proxyAuthorization, type Raw, runAttempt } from './attempt.js';
import { Failure, type Limit, NetworkError } from './failures.js';
import { formatDuration, type NetworkPolicy } from './policy.js';
import { isSecretHeader, redactHeaders, scrubber } from './redaction.js';

export interface HttpRequest {
  /** GET and POST for the backend client; any method for `sekuire api`. */
  method: string;
  url: URL;
  /** Sent as X-API-Key; shown (in events and errors) only in its masked form. */
  key?: ApiKey;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** 'unsent-only': repeat only what certainly did not reach the server (and 429). */
  retry: 'idempotent' | 'unsent-only';
  /**
   * Headers that prove this device (proof.ts), made for each attempt and each redirect hop:
   * a retry signs again, with a fresh nonce, as a repeated nonce is refused as a replay.
   */
  sign?(method: string, url: URL, body: string | Buffer | undefined): Record<string, string>;
}

export interface HttpResponse {
  status: number;
  /** Lowercase names; repeated headers joined with ', '. */
  headers: Record<string, string | undefined>;
  body: string;
  /** The body as it came (attempt.ts sets it; test seams may not). */
  bytes?: Buffer;
  statusText?: string;
  /** From the start of the first attempt to the end of the last answer. */
  elapsedMs: number;
  /** Requests made, counting retries and followed redirects. */
  attempts: number;
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

export type AttemptRunner = (
  hop: Hop,
  headers: Record<string, string>,
  proxy: URL | undefined,
  limits: Limits,
) => Promise<Raw>;

export interface SendOptions {
  policy: NetworkPolicy;
  env: Env;
  onEvent?: (event: HttpEvent) => void;
  /** Test seam: the backoff's randomness. */
  random?: () => number;
  /** Test seam: the wait between attempts. */
  sleep?: (ms: number) => Promise<void>;
  /** Test seam: a monotonic clock in milliseconds (the deadline is measured with it). */
  now?: () => number;
  /** Test seam: one attempt on the network. */
  attempt?: AttemptRunner;
}

const USER_AGENT = `sekuire/${typeof __SEKUIRE_VERSION__ === 'string' ? __SEKUIRE_VERSION__ : 'dev'} node/${process.versions.node}`;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const RETRY_STATUSES = { idempotent: new Set([429, 502, 503, 504]), 'unsent-only': new Set([429]) } as const;

function put(headers: Record<string, string>, name: string, value: string): void {
  for (const existing of Object.keys(headers)) {
    if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
  }
  headers[name] = value;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((existing) => existing.toLowerCase() === name);
}

function headersFor(hop: Hop, request: HttpRequest, proxy: URL | undefined): Record<string, string> {
  const headers: Record<string, string> = {
    Host: hop.url.host,
    Accept: 'application/json',
    'User-Agent': USER_AGENT,
  };
  for (const [name, value] of Object.entries(request.headers)) put(headers, name, value);
  if (request.key) put(headers, 'X-API-Key', request.key.value);
  for (const [name, value] of Object.entries(request.sign?.(hop.method, hop.url, hop.body) ?? {})) {
    put(headers, name, value);
  }
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

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The limits of the next attempt: the policy's, or what is left of the deadline when that is shorter. */
function limitsFor(policy: NetworkPolicy, remaining: number): Limits {
  const deadline: Limit = { name: 'deadline', ms: policy.deadlineMs };
  return {
    connectMs: Math.min(policy.connectTimeoutMs, remaining),
    connectLimit:
      remaining <= policy.connectTimeoutMs ? deadline : { name: 'connect', ms: policy.connectTimeoutMs },
    budgetMs: Math.min(policy.attemptTimeoutMs, remaining),
    budgetLimit:
      remaining <= policy.attemptTimeoutMs ? deadline : { name: 'attempt', ms: policy.attemptTimeoutMs },
    maxBodyBytes: policy.maxBodyBytes,
  };
}

/**
 * Sends one request with the policy's timeouts, retries and redirects. Resolves with any HTTP
 * answer (the caller maps statuses); rejects with NetworkError when there is none to give.
 */
export async function send(request: HttpRequest, options: SendOptions): Promise<HttpResponse> {
  const { policy } = options;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  // process.hrtime, not performance.now(): the first use of `performance` loads perf_hooks.
  const now = options.now ?? (() => Number(process.hrtime.bigint()) / 1e6);
  const attempt = options.attempt ?? runAttempt;
  const emit = options.onEvent ?? (() => {});
  const { url } = request;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(
      `Cannot send a request to a ${url.protocol} URL; only https:// and http:// are supported.`,
    );
  }
  const carriesSecret = request.key !== undefined || Object.keys(request.headers).some(isSecretHeader);
  if (url.protocol === 'http:' && carriesSecret && !isLoopbackHost(url.hostname)) {
    throw plainHttpRefusal(url, 'the request');
  }
  const proxy = proxyFor(url, options.env);
  let scrub = scrubber(request.headers, request.key);
  const failed = (failure: Failure, attempts: number) =>
    new NetworkError(
      failure.kind,
      scrub(failure.message),
      attempts,
      failure.detail === undefined ? undefined : scrub(failure.detail),
      failure.limit,
    );
  const started = now();
  const deadlineAt = started + policy.deadlineMs;
  const backoff = (retry: number) =>
    Math.round(random() * Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** (retry - 1)));
  let hop: Hop = { method: request.method, url, body: request.body };
  let attempts = 0;
  let retries = 0;
  let redirects = 0;
  for (;;) {
    const remaining = deadlineAt - now();
    if (remaining <= 0) {
      throw new NetworkError(
        'deadline',
        `No answer from ${originOf(url)} within the ${formatDuration(policy.deadlineMs)} deadline.`,
        attempts,
        undefined,
        { name: 'deadline', ms: policy.deadlineMs },
      );
    }
    attempts++;
    const headers = headersFor(hop, request, proxy);
    scrub = scrubber(headers, request.key);
    emit({
      type: 'request',
      method: hop.method,
      url: hop.url.href,
      attempt: attempts,
      headers: redactHeaders(headers, request.key),
      ...(proxy ? { proxy: originOf(proxy) } : {}),
    });
    const attemptStarted = now();
    let raw: Raw;
    try {
      raw = await attempt(hop, headers, proxy, limitsFor(policy, remaining));
    } catch (error) {
      if (!(error instanceof Failure)) throw error;
      const repeatable = error.transient && (!error.sent || request.retry === 'idempotent');
      const delay = backoff(retries + 1);
      // Never sleep past the deadline: the last real error says more than "deadline" would.
      if (!repeatable || retries >= policy.retries || now() + delay >= deadlineAt) {
        throw failed(error, attempts);
      }
      emit({ type: 'retry', attempt: attempts, delayMs: delay, reason: scrub(error.message) });
      await sleep(delay);
      retries++;
      continue;
    }
    emit({
      type: 'response',
      status: raw.status,
      elapsedMs: Math.round(now() - attemptStarted),
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
        emit({ type: 'redirect', from: hop.url.href, to: scrub(to.href), followed: false });
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
      emit({ type: 'redirect', from: hop.url.href, to: scrub(to.href), followed: true });
      to.hash = '';
      hop = raw.status === 303 ? { method: 'GET', url: to } : { ...hop, url: to };
      continue;
    }

    if (RETRY_STATUSES[request.retry].has(raw.status) && retries < policy.retries) {
      const after = retryAfterMs(raw.headers['retry-after'], Date.now());
      // A longer Retry-After than we are willing to wait: hand the answer back instead.
      if (after === undefined || after <= policy.retryAfterCapMs) {
        const delay = after ?? backoff(retries + 1);
        if (now() + delay < deadlineAt) {
          emit({ type: 'retry', attempt: attempts, delayMs: delay, reason: `HTTP ${raw.status}` });
          await sleep(delay);
          retries++;
          continue;
        }
      }
    }
    return { ...raw, elapsedMs: Math.round(now() - started), attempts };
  }
}
