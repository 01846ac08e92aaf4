// The backend API: one function per endpoint; every non-2xx answer becomes a typed error with a hint.
import { apiUrl } from './backend-url.js';
import {
  BackendUnreachableError,
  DeviceMismatchError,
  ForbiddenError,
  KeyRejectedError,
  SekuireError,
} from './errors.js';
import type { Env } from './home.js';
import { NetworkError } from './http/failures.js';
import { formatDuration, type NetworkPolicy } from './http/policy.js';
import { type HttpEvent, type HttpRequest, type HttpResponse, type SendOptions, send } from './http/send.js';
import type { ApiKey } from './key.js';
import { redactKeys } from './redact.js';
import { cleanText, MAX_MESSAGE, MAX_NAME } from './text.js';

export interface UserInfo {
  readonly id: string;
  readonly email: string;
  readonly name: string;
}
export interface NamedEntity {
  readonly id: string;
  readonly name: string;
}
export interface KeyInfo {
  readonly id: string;
  readonly name: string;
  readonly environment: string;
  readonly masked: string;
  readonly created_at: string;
  readonly expires_at: string | null;
}
export interface BoundDevice {
  readonly id: string;
  readonly fingerprint: string;
  readonly name: string;
  readonly os: string;
  readonly bound_at: string;
  readonly rebound: boolean;
}
export interface LoginResponse {
  readonly user: UserInfo;
  readonly organization: NamedEntity;
  readonly workspace: NamedEntity;
  readonly key: KeyInfo;
  readonly device: BoundDevice;
}
export interface StatusResponse {
  readonly key: KeyInfo;
  readonly device: BoundDevice | null;
  readonly organization: NamedEntity;
  readonly workspace: NamedEntity;
}
export interface WhoamiResponse {
  readonly user: UserInfo;
  readonly organization: NamedEntity;
  readonly workspace: NamedEntity;
  readonly device: BoundDevice | null;
}
export interface DeviceRegistration {
  readonly fingerprint: string;
  readonly name: string;
  readonly os: string;
  readonly os_version: string;
  readonly arch: string;
}
export interface BoundDeviceSummary {
  readonly name: string;
  readonly os: string;
  readonly bound_at: string;
}

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

class ShapeError extends Error {}

type Json = Record<string, unknown>;

/**
 * Reads fields of a backend's JSON answer as display-safe text: control and format characters
 * removed, length capped, and the key in use (or any run of its random part) masked.
 */
class Reader {
  constructor(private readonly key: ApiKey) {}

  clean(value: string, max = MAX_NAME): string {
    return redactKeys(cleanText(value, max), this.key);
  }

  field(record: Json, name: string, path: string): Json {
    const value = record[name];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ShapeError(`${path}${name} is not an object`);
    }
    return value as Json;
  }

  text(record: Json, name: string, path: string): string {
    const value = record[name];
    if (typeof value !== 'string') throw new ShapeError(`${path}${name} is not a string`);
    return this.clean(value);
  }

  optionalText(record: Json, name: string, path: string): string | null {
    const value = record[name];
    if (value === null || value === undefined) return null;
    return this.text(record, name, path);
  }

  /** A string field when it is one, else ''; for error bodies, which are read leniently. */
  loose(record: Json | undefined, name: string, max = MAX_NAME): string {
    const value = record?.[name];
    return typeof value === 'string' ? this.clean(value, max) : '';
  }

  user(r: Json): UserInfo {
    const u = this.field(r, 'user', '');
    return {
      id: this.text(u, 'id', 'user.'),
      email: this.text(u, 'email', 'user.'),
      name: this.optionalText(u, 'name', 'user.') ?? '',
    };
  }

  named(r: Json, name: 'organization' | 'workspace'): NamedEntity {
    const o = this.field(r, name, '');
    return { id: this.text(o, 'id', `${name}.`), name: this.optionalText(o, 'name', `${name}.`) ?? '' };
  }

  keyInfo(r: Json): KeyInfo {
    const k = this.field(r, 'key', '');
    return {
      id: this.text(k, 'id', 'key.'),
      name: this.optionalText(k, 'name', 'key.') ?? '',
      environment: this.text(k, 'environment', 'key.'),
      masked: this.text(k, 'masked', 'key.'),
      created_at: this.optionalText(k, 'created_at', 'key.') ?? '',
      expires_at: this.optionalText(k, 'expires_at', 'key.'),
    };
  }

  device(r: Json): BoundDevice | null {
    if (r.device === null || r.device === undefined) return null;
    const d = this.field(r, 'device', '');
    const fingerprint = this.text(d, 'fingerprint', 'device.');
    if (!/^[0-9a-f]{64}$/.test(fingerprint))
      throw new ShapeError('device.fingerprint is not 64 hex characters');
    return {
      id: this.text(d, 'id', 'device.'),
      fingerprint,
      name: this.text(d, 'name', 'device.'),
      os: this.text(d, 'os', 'device.'),
      bound_at: this.optionalText(d, 'bound_at', 'device.') ?? '',
      rebound: d.rebound === true,
    };
  }

  boundDevice(body: Json | undefined): BoundDeviceSummary | undefined {
    const d = body?.bound_device;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) return undefined;
    const r = d as Json;
    return { name: this.loose(r, 'name'), os: this.loose(r, 'os'), bound_at: this.loose(r, 'bound_at') };
  }
}

const parsers = {
  login: (read: Reader, r: Json): LoginResponse => {
    const device = read.device(r);
    if (device === null) throw new ShapeError('device is missing');
    return {
      user: read.user(r),
      organization: read.named(r, 'organization'),
      workspace: read.named(r, 'workspace'),
      key: read.keyInfo(r),
      device,
    };
  },
  status: (read: Reader, r: Json): StatusResponse => ({
    key: read.keyInfo(r),
    device: read.device(r),
    organization: read.named(r, 'organization'),
    workspace: read.named(r, 'workspace'),
  }),
  whoami: (read: Reader, r: Json): WhoamiResponse => ({
    user: read.user(r),
    organization: read.named(r, 'organization'),
    workspace: read.named(r, 'workspace'),
    device: read.device(r),
  }),
  logout: (_read: Reader, r: Json): { unbound: boolean } => {
    if (typeof r.unbound !== 'boolean') throw new ShapeError('unbound is not a boolean');
    return { unbound: r.unbound };
  },
};

/** Retry-After as whole seconds from now: it may be a number of seconds or an HTTP date. */
function retryAfterSeconds(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : null;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export class BackendClient {
  readonly backend: string;
  private readonly read: Reader;
  constructor(private readonly options: ClientOptions) {
    this.backend = options.backend.href.replace(/\/$/, '');
    this.read = new Reader(options.key);
  }

  /** What to check when the answer is not the API: a path the user added, else the URL's source. */
  private checkUrlHint(): string {
    const { backend, backendSource } = this.options;
    const path = backend.pathname.replace(/\/+$/, '');
    if (path !== '') {
      return `The backend URL has a path (${path}), and sekuire adds /api/v1/... itself: try ${backend.origin} (from ${backendSource}).`;
    }
    return `Check the backend URL (from ${backendSource}); a captive portal or proxy may be answering instead.`;
  }

  private notTheApi(response: HttpResponse, why: string): BackendUnreachableError {
    const type = response.headers['content-type']?.split(';')[0]?.trim() || 'no content type';
    return new BackendUnreachableError(
      `The backend at ${this.backend} did not answer as the Sekuire API (HTTP ${response.status}, ${this.read.clean(type)}: ${why}).`,
      'bad_response',
      {
        hint: this.checkUrlHint(),
        details: {
          backend: this.backend,
          status: response.status,
          content_type: response.headers['content-type'] === undefined ? null : this.read.clean(type),
        },
      },
    );
  }

  private parseJson(response: HttpResponse): Json {
    const type = response.headers['content-type'] ?? '';
    if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type.trim())) throw this.notTheApi(response, 'not JSON');
    let value: unknown;
    try {
      value = JSON.parse(response.body);
    } catch {
      throw this.notTheApi(response, 'invalid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw this.notTheApi(response, 'not a JSON object');
    }
    return value as Json;
  }

  /** The typed error for a non-2xx answer. */
  private errorFor(response: HttpResponse): SekuireError {
    const { status } = response;
    const { backend, read } = this;
    let body: Json | undefined;
    try {
      body = this.parseJson(response);
    } catch (error) {
      if (status >= 500) body = undefined;
      else throw error;
    }
    const code = read.loose(body, 'error', 64);
    const serverMessage = read.loose(body, 'message', MAX_MESSAGE);
    const said = serverMessage ? ` The backend said: "${serverMessage}"` : '';
    if (status >= 500) {
      return new BackendUnreachableError(
        `The Sekuire backend at ${backend} failed (HTTP ${status}) after ${plural(response.attempts, 'attempt')}.`,
        'backend_error',
        { hint: 'Try again later', details: { backend, status } },
      );
    }
    if (status === 429) {
      const retryAfter = retryAfterSeconds(response.headers['retry-after']);
      return new BackendUnreachableError(
        `The Sekuire backend at ${backend} is limiting requests from this address${retryAfter === null ? '' : `; retry in ${retryAfter} s`}.`,
        'rate_limited',
        { hint: 'Try again later', details: { backend, retry_after: retryAfter } },
      );
    }
    if (status === 401) {
      const known = code === 'key_revoked' || code === 'key_expired';
      const reason =
        code === 'key_revoked'
          ? 'it was revoked'
          : code === 'key_expired'
            ? 'it has expired'
            : 'the backend does not know it';
      return new KeyRejectedError(known ? code : 'invalid_key', `The API key was rejected: ${reason}.`, {
        hint: "Create a new key on the dashboard, then run 'sekuire login'",
        details: { backend, reason },
      });
    }
    if (status === 409 && code === 'device_mismatch') {
      const bound = read.boundDevice(body);
      const where = bound
        ? `${bound.name || 'another device'} (${bound.os || 'unknown OS'}), bound ${bound.bound_at || 'earlier'}`
        : 'another device';
      return new DeviceMismatchError(`This key is bound to another device: ${where}.`, 'device_mismatch', {
        hint: "Run 'sekuire login --rebind' on this device to move the binding here",
        details: { backend, bound_device: bound ?? null },
      });
    }
    if (status === 402) {
      const upgrade = read.loose(body, 'upgrade_url', MAX_MESSAGE);
      return new ForbiddenError('plan_limit_exceeded', `Your plan's limit is reached.${said}`, {
        ...(upgrade ? { hint: `Upgrade at ${upgrade}` } : {}),
        details: { backend, upgrade_url: upgrade || null },
      });
    }
    if (status === 403) {
      return new ForbiddenError('forbidden', `The key is not allowed to do this.${said}`, {
        details: { backend },
      });
    }
    if (status === 400 || status === 413) {
      return new SekuireError(
        code || 'invalid_request',
        `The backend refused the request as malformed (HTTP ${status}).${said}`,
        'bug',
        {
          hint: 'This is a bug in sekuire or a version mismatch with the backend; please report it',
          details: { backend, status },
        },
      );
    }
    return this.notTheApi(response, code ? `error "${code}"` : 'unexpected status');
  }

  private unreachable(error: NetworkError): BackendUnreachableError {
    const where = `the Sekuire backend at ${this.backend}`;
    const after = error.attempts > 1 ? `, after ${plural(error.attempts, 'attempt')}` : '';
    const later = 'Try again later';
    const say = (message: string, hint?: string) =>
      new BackendUnreachableError(message, `network_${error.kind}`, {
        ...(hint ? { hint } : {}),
        details: { backend: this.backend, attempts: error.attempts },
      });
    const { limit } = error;
    switch (error.kind) {
      case 'refused':
        return say(
          `Cannot reach ${where}: connection refused${after}.`,
          'Check that it is running and that the URL is right',
        );
      case 'dns':
        return say(
          `Cannot reach ${where}: its host name does not resolve.`,
          'Check the URL and your network',
        );
      case 'connect_timeout':
        return limit
          ? say(
              `No connection to ${where} within ${formatDuration(limit.ms)} (the connect timeout)${after}.`,
              `${later}, or raise SEKUIRE_CONNECT_TIMEOUT or 'sekuire config set connect_timeout' (seconds)`,
            )
          : say(`Connecting to ${where} timed out in the network${after}.`, later);
      case 'timeout':
        return limit
          ? say(
              `No complete answer from ${where} within ${formatDuration(limit.ms)} (the limit per attempt)${after}.`,
              later,
            )
          : say(`The connection to ${where} timed out in the network${after}.`, later);
      case 'deadline':
        return say(
          `No answer from ${where} within ${formatDuration(limit?.ms ?? this.options.policy.deadlineMs)} (the total deadline)${after}.`,
          `${later}, or raise SEKUIRE_TIMEOUT or 'sekuire config set timeout' (seconds)`,
        );
      case 'not_tls': {
        const plain = new URL(this.backend);
        plain.protocol = 'http:';
        return say(
          `${where.charAt(0).toUpperCase()}${where.slice(1)} does not speak TLS: it answered https:// in plain text.`,
          `If it is a plain-http server on this machine, use ${plain.href.replace(/\/$/, '')}`,
        );
      }
      case 'tls':
        return say(
          `Secure connection to ${where} failed (${error.detail ?? 'TLS error'}).`,
          'If your network uses its own certificate authority, set NODE_EXTRA_CA_CERTS to its PEM file',
        );
      case 'proxy':
        return say(`${error.message} Cannot reach ${where} through it.`, 'Check HTTPS_PROXY and NO_PROXY');
      case 'redirect':
        return say(
          `${error.message} Sekuire does not send your key to another origin.`,
          "Use the backend's real URL",
        );
      case 'too_large':
        return say(`The answer from ${where} is too large to be the Sekuire API.`, this.checkUrlHint());
      case 'reset':
        return say(`The connection to ${where} was reset${after}.`, later);
      default:
        return say(`Cannot reach ${where}: ${error.message}`);
    }
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
      if (error instanceof NetworkError) throw this.unreachable(error);
      throw error;
    }
    if (response.status < 200 || response.status > 299) throw this.errorFor(response);
    const body = this.parseJson(response);
    try {
      return {
        body: parse(this.read, body),
        elapsedMs: response.elapsedMs,
        attempts: response.attempts,
        url: url.href,
      };
    } catch (error) {
      if (error instanceof ShapeError) throw this.notTheApi(response, error.message);
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
