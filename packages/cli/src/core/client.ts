// The backend API: one method per endpoint; answers are read by answers.ts, failures typed by api-errors.ts.

import { type ApiKey, parseKey } from '@sekuire/shared/key';
import {
  type DeviceCodeAnswer,
  type DeviceRegistration,
  type Json,
  type LoginResponse,
  type MoveAnswer,
  parsers,
  Reader,
  readDeviceCode,
  readMove,
  ShapeError,
  type StatusResponse,
  type WhoamiResponse,
} from './answers.js';
import { errorFor, notTheApi, parseJson, unreachable, type Where } from './api-errors.js';
import { apiUrl, urlText } from './backend-url.js';
import type { DeviceKey } from './device-key.js';
import type { Env } from './home.js';
import { NetworkError } from './http/failures.js';
import type { NetworkPolicy } from './http/policy.js';
import { type HttpEvent, type HttpRequest, type HttpResponse, type SendOptions, send } from './http/send.js';
import { proofHeaders } from './proof.js';

export type {
  BoundDevice,
  BoundDeviceSummary,
  DeviceCodeAnswer,
  DeviceRegistration,
  KeyInfo,
  LoginResponse,
  MoveAnswer,
  NamedEntity,
  StatusResponse,
  UserInfo,
  WhoamiResponse,
} from './answers.js';

export interface ClientOptions {
  readonly backend: URL;
  /** Where the backend URL came from (a flag, a variable, config.json, auth.json), for hints. */
  readonly backendSource: string;
  /** Sent as X-API-Key; absent for the calls that come before a key exists (browser login). */
  readonly key?: ApiKey;
  /** This device's key: every request is signed with it (device proof), when there is one. */
  readonly proof?: DeviceKey;
  /** The wall clock the proofs are dated with (tests set it). */
  readonly wallClock?: () => number;
  /** Sent as X-Sekuire-Device on every call but login (which sends it in the body). */
  readonly fingerprint: string;
  readonly policy: NetworkPolicy;
  readonly env: Env;
  readonly onEvent?: (event: HttpEvent) => void;
  /** Test seams of the transport (clock, sleep, one attempt). */
  readonly transport?: Pick<SendOptions, 'now' | 'sleep' | 'random' | 'attempt'>;
}

/** What came back, with the time it took: `auth test` reports it. */
export interface Timed<T> {
  readonly body: T;
  readonly elapsedMs: number;
  readonly attempts: number;
  readonly url: string;
}

/** The backend's time, from a 401 proof_stale answer; undefined for any other answer. */
function staleServerTime(at: Where, response: HttpResponse): number | undefined {
  if (response.status !== 401) return undefined;
  try {
    const body = parseJson(at, response);
    if (body.error !== 'proof_stale' || typeof body.server_time !== 'string') return undefined;
    const time = Date.parse(body.server_time);
    return Number.isNaN(time) ? undefined : time;
  } catch {
    return undefined;
  }
}

/** A protocol answer among the non-2xx ones (JSON with an error code), else undefined. */
function readExpected<T>(
  at: Where,
  response: HttpResponse,
  expected: (status: number, body: Json) => T | undefined,
): T | undefined {
  try {
    return expected(response.status, parseJson(at, response));
  } catch {
    return undefined;
  }
}

/** What a token request brings: the new key, or where the wait stands (RFC 8628 §3.5). */
export type TokenAnswer =
  | { readonly kind: 'granted'; readonly login: LoginResponse; readonly key: ApiKey }
  | { readonly kind: 'pending' | 'slow_down' | 'denied' | 'expired' }
  | { readonly kind: 'invalid'; readonly message: string };

/** The login's answer: bound (or refreshed, or moved at once), or a move that waits for approval. */
export type LoginAnswer =
  | { readonly kind: 'bound'; readonly login: LoginResponse }
  | { readonly kind: 'move'; readonly move: MoveAnswer };

/** Where a move stands when polled: the same waiting answers as a device code, then the login. */
export type MovePoll =
  | { readonly kind: 'moved'; readonly login: LoginResponse }
  /** otherRequests: other devices asked to take the same key too (the backend says how many). */
  | { readonly kind: 'pending'; readonly otherRequests: number }
  | { readonly kind: 'slow_down' | 'denied' | 'expired' }
  | { readonly kind: 'invalid'; readonly message: string };

const WAITING: Readonly<Record<string, TokenAnswer['kind']>> = {
  authorization_pending: 'pending',
  slow_down: 'slow_down',
  access_denied: 'denied',
  expired_token: 'expired',
  invalid_grant: 'invalid',
};

function readToken(r: Json): TokenAnswer {
  const value = r.api_key;
  if (typeof value !== 'string') throw new ShapeError('api_key is not a string');
  let key: ApiKey;
  try {
    key = parseKey(value);
  } catch {
    throw new ShapeError('api_key is not a Sekuire API key');
  }
  // Read with the new key as the key in use: a name that echoes it comes out masked.
  return { kind: 'granted', key, login: parsers.login(new Reader(key), r) };
}

export class BackendClient {
  readonly backend: string;
  private readonly at: Where;
  /** Seconds to add to this machine's clock, learnt once from a proof_stale answer. */
  private skewSeconds = 0;
  private skewCorrected = false;
  constructor(private readonly options: ClientOptions) {
    this.backend = urlText(options.backend);
    this.at = {
      backend: this.backend,
      url: options.backend,
      source: options.backendSource,
      read: new Reader(options.key),
      policy: options.policy,
    };
  }

  private async call<T>(
    request: Omit<HttpRequest, 'url' | 'headers' | 'key'> & { path: string; device: boolean },
    parse: (read: Reader, body: Json) => T,
    /** Reads a non-2xx answer that is part of the protocol (OAuth's 400s); undefined: an error. */
    expected?: (status: number, body: Json) => T | undefined,
  ): Promise<Timed<T>> {
    const { options } = this;
    const headers: Record<string, string> = {};
    if (request.device) headers['X-Sekuire-Device'] = options.fingerprint;
    const url = apiUrl(options.backend, request.path);
    const proof = options.proof;
    const wallClock = options.wallClock ?? Date.now;
    const sign =
      proof === undefined
        ? undefined
        : (method: string, target: URL, body: string | undefined) =>
            proofHeaders(proof, method, target, body, wallClock() / 1000 + this.skewSeconds);
    let response: HttpResponse;
    try {
      response = await send(
        {
          method: request.method,
          url,
          ...(options.key !== undefined && { key: options.key }),
          ...(sign !== undefined && { sign }),
          headers,
          body: request.body,
          retry: request.retry,
        },
        { ...options.transport, policy: options.policy, env: options.env, onEvent: options.onEvent },
      );
    } catch (error) {
      if (error instanceof NetworkError) throw unreachable(this.at, error);
      throw error;
    }
    // A clock too far from the backend's: correct it once from the time the backend gave, and
    // sign again. A second stale answer is an error like any other.
    const serverTime =
      proof === undefined || this.skewCorrected ? undefined : staleServerTime(this.at, response);
    if (serverTime !== undefined) {
      this.skewCorrected = true;
      this.skewSeconds = (serverTime - wallClock()) / 1000;
      return this.call(request, parse, expected);
    }
    if (response.status < 200 || response.status > 299) {
      const handled = expected === undefined ? undefined : readExpected(this.at, response, expected);
      if (handled === undefined) throw errorFor(this.at, response);
      return { body: handled, elapsedMs: response.elapsedMs, attempts: response.attempts, url: url.href };
    }
    const body = parseJson(this.at, response);
    try {
      return {
        body: parse(this.at.read, body),
        elapsedMs: response.elapsedMs,
        attempts: response.attempts,
        url: url.href,
      };
    } catch (error) {
      if (error instanceof ShapeError) throw notTheApi(this.at, response, error.message);
      throw error;
    }
  }

  /**
   * Verifies the key and binds it to this device. With `rebind`, a key bound elsewhere is moved:
   * at once on a backend that allows it, else once a person approves (the 'move' answer).
   */
  login(device: DeviceRegistration, rebind: boolean): Promise<Timed<LoginAnswer>> {
    return this.call<LoginAnswer>(
      {
        method: 'POST',
        path: '/api/v1/cli/login',
        body: JSON.stringify({ device, rebind }),
        // Binding twice to the same device is harmless, but a lost answer to a rebind is not
        // worth guessing about: repeat only what certainly did not reach the server.
        retry: 'unsent-only',
        device: false,
      },
      (read, body): LoginAnswer =>
        body.move === undefined
          ? { kind: 'bound', login: parsers.login(read, body) }
          : { kind: 'move', move: readMove(read, body) },
    );
  }

  /** Polls a move this device asked for (signed with this device's key, which the move names). */
  pollMove(moveId: string): Promise<Timed<MovePoll>> {
    return this.call<MovePoll>(
      {
        method: 'POST',
        path: '/api/v1/cli/token',
        body: JSON.stringify({ grant_type: 'urn:sekuire:move', move_id: moveId }),
        retry: 'unsent-only',
        device: false,
      },
      (read, body) => ({ kind: 'moved', login: parsers.login(read, body) }),
      (status, body) => {
        const kind = status === 400 && typeof body.error === 'string' ? WAITING[body.error] : undefined;
        if (kind === undefined || kind === 'granted') return undefined;
        if (kind === 'invalid') {
          return { kind, message: this.at.read.loose(body, 'message') || 'The move is not valid.' };
        }
        if (kind === 'pending') {
          const others = body.other_requests;
          return {
            kind,
            otherRequests:
              typeof others === 'number' && Number.isSafeInteger(others) && others > 0 ? others : 0,
          };
        }
        return { kind };
      },
    );
  }

  status(): Promise<Timed<StatusResponse>> {
    return this.call(
      { method: 'GET', path: '/api/v1/cli/status', retry: 'idempotent', device: true },
      parsers.status,
    );
  }

  whoami(): Promise<Timed<WhoamiResponse>> {
    return this.call(
      { method: 'GET', path: '/api/v1/cli/whoami', retry: 'idempotent', device: true },
      parsers.whoami,
    );
  }

  /** Browser login over the device flow: a code for a person to approve (no key needed). */
  deviceCode(device: DeviceRegistration): Promise<Timed<DeviceCodeAnswer>> {
    return this.call(
      {
        method: 'POST',
        path: '/api/v1/cli/device/code',
        body: JSON.stringify({ device }),
        retry: 'idempotent',
        device: false,
      },
      readDeviceCode,
    );
  }

  /**
   * Exchanges a browser login's code, or polls a device code. A code is spent by its first
   * exchange, so only what certainly did not reach the server is repeated.
   */
  token(request: Readonly<Record<string, unknown>>): Promise<Timed<TokenAnswer>> {
    return this.call(
      {
        method: 'POST',
        path: '/api/v1/cli/token',
        body: JSON.stringify(request),
        retry: 'unsent-only',
        device: false,
      },
      (_read, body) => readToken(body),
      (status, body) => {
        const kind = status === 400 && typeof body.error === 'string' ? WAITING[body.error] : undefined;
        if (kind === undefined) return undefined;
        if (kind === 'invalid') {
          return { kind, message: this.at.read.loose(body, 'message') || 'The code is not valid.' };
        }
        return { kind } as TokenAnswer;
      },
    );
  }

  /** Removes this device's binding; repeating it is harmless. */
  logout(): Promise<Timed<{ unbound: boolean }>> {
    return this.call(
      { method: 'POST', path: '/api/v1/cli/logout', body: '{}', retry: 'idempotent', device: true },
      parsers.logout,
    );
  }
}
