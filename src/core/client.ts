// The backend API: one method per endpoint; answers are read by answers.ts, failures typed by api-errors.ts.

import {
  type DeviceRegistration,
  type Json,
  type LoginResponse,
  parsers,
  Reader,
  ShapeError,
  type StatusResponse,
  type WhoamiResponse,
} from './answers.js';
import { errorFor, notTheApi, parseJson, unreachable, type Where } from './api-errors.js';
import { apiUrl, urlText } from './backend-url.js';
import type { Env } from './home.js';
import { NetworkError } from './http/failures.js';
import type { NetworkPolicy } from './http/policy.js';
import { type HttpEvent, type HttpRequest, type HttpResponse, type SendOptions, send } from './http/send.js';
import type { ApiKey } from './key.js';

export type {
  BoundDevice,
  BoundDeviceSummary,
  DeviceRegistration,
  KeyInfo,
  LoginResponse,
  NamedEntity,
  StatusResponse,
  UserInfo,
  WhoamiResponse,
} from './answers.js';

export interface ClientOptions {
  readonly backend: URL;
  /** Where the backend URL came from (a flag, a variable, config.json, auth.json), for hints. */
  readonly backendSource: string;
  readonly key: ApiKey;
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

export class BackendClient {
  readonly backend: string;
  private readonly at: Where;
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
  ): Promise<Timed<T>> {
    const { options } = this;
    const headers: Record<string, string> = {};
    if (request.device) headers['X-Sekuire-Device'] = options.fingerprint;
    const url = apiUrl(options.backend, request.path);
    let response: HttpResponse;
    try {
      response = await send(
        { method: request.method, url, key: options.key, headers, body: request.body, retry: request.retry },
        { ...options.transport, policy: options.policy, env: options.env, onEvent: options.onEvent },
      );
    } catch (error) {
      if (error instanceof NetworkError) throw unreachable(this.at, error);
      throw error;
    }
    if (response.status < 200 || response.status > 299) throw errorFor(this.at, response);
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

  /** Verifies the key and binds it to this device (moves the binding when `rebind`). */
  login(device: DeviceRegistration, rebind: boolean): Promise<Timed<LoginResponse>> {
    return this.call(
      {
        method: 'POST',
        path: '/api/v1/cli/login',
        body: JSON.stringify({ device, rebind }),
        // Binding twice to the same device is harmless, but a lost answer to a rebind is not
        // worth guessing about: repeat only what certainly did not reach the server.
        retry: 'unsent-only',
        device: false,
      },
      parsers.login,
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

  /** Removes this device's binding; repeating it is harmless. */
  logout(): Promise<Timed<{ unbound: boolean }>> {
    return this.call(
      { method: 'POST', path: '/api/v1/cli/logout', body: '{}', retry: 'idempotent', device: true },
      parsers.logout,
    );
  }
}
