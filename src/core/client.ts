// The backend API: one function per endpoint; every non-2xx answer becomes a typed error.

import { apiUrl } from './backend-url.js';
import {
  BackendUnreachableError,
  DeviceMismatchError,
  ExitCode,
  ForbiddenError,
  KeyRejectedError,
  SekuireError,
} from './errors.js';
import type { Env } from './home.js';
import {
  type HttpEvent,
  type HttpRequest,
  type HttpResponse,
  NetworkError,
  type NetworkPolicy,
  send,
} from './http.js';

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
  readonly apiKey: string;
  /** Sent as X-Sekuire-Device on every call but login (which sends it in the body). */
  readonly fingerprint: string;
  readonly policy: NetworkPolicy;
  readonly env: Env;
  readonly onEvent?: (event: HttpEvent) => void;
}

/** What came back, with the time it took: `auth test` reports it. */
export interface Timed<T> {
  readonly body: T;
  readonly elapsedMs: number;
  readonly attempts: number;
  readonly url: string;
}

/** Strips control characters so a hostile backend cannot drive the user's terminal. */
function clean(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
}

class ShapeError extends Error {}

function field(record: Record<string, unknown>, name: string, path: string): Record<string, unknown> {
  const value = record[name];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ShapeError(`${path}${name} is not an object`);
  }
  return value as Record<string, unknown>;
}

function text(record: Record<string, unknown>, name: string, path: string): string {
  const value = record[name];
  if (typeof value !== 'string') throw new ShapeError(`${path}${name} is not a string`);
  return clean(value);
}

function optionalText(record: Record<string, unknown>, name: string, path: string): string | null {
  const value = record[name];
  if (value === null || value === undefined) return null;
  return text(record, name, path);
}

function user(r: Record<string, unknown>): UserInfo {
  const u = field(r, 'user', '');
  return {
    id: text(u, 'id', 'user.'),
    email: text(u, 'email', 'user.'),
    name: optionalText(u, 'name', 'user.') ?? '',
  };
}

function named(r: Record<string, unknown>, name: 'organization' | 'workspace'): NamedEntity {
  const o = field(r, name, '');
  return { id: text(o, 'id', `${name}.`), name: optionalText(o, 'name', `${name}.`) ?? '' };
}

function keyInfo(r: Record<string, unknown>): KeyInfo {
  const k = field(r, 'key', '');
  return {
    id: text(k, 'id', 'key.'),
    name: optionalText(k, 'name', 'key.') ?? '',
    environment: text(k, 'environment', 'key.'),
    masked: text(k, 'masked', 'key.'),
    created_at: optionalText(k, 'created_at', 'key.') ?? '',
    expires_at: optionalText(k, 'expires_at', 'key.'),
  };
}

function device(r: Record<string, unknown>, nullable: boolean): BoundDevice | null {
  if (nullable && (r.device === null || r.device === undefined)) return null;
  const d = field(r, 'device', '');
  const fingerprint = text(d, 'fingerprint', 'device.');
  if (!/^[0-9a-f]{64}$/.test(fingerprint))
    throw new ShapeError('device.fingerprint is not 64 hex characters');
  return {
    id: text(d, 'id', 'device.'),
    fingerprint,
    name: text(d, 'name', 'device.'),
    os: text(d, 'os', 'device.'),
    bound_at: optionalText(d, 'bound_at', 'device.') ?? '',
    rebound: d.rebound === true,
  };
}

const parsers = {
  login: (r: Record<string, unknown>): LoginResponse => ({
    user: user(r),
    organization: named(r, 'organization'),
    workspace: named(r, 'workspace'),
    key: keyInfo(r),
    device: device(r, false) as BoundDevice,
  }),
  status: (r: Record<string, unknown>): StatusResponse => ({
    key: keyInfo(r),
    device: device(r, true),
    organization: named(r, 'organization'),
    workspace: named(r, 'workspace'),
  }),
  whoami: (r: Record<string, unknown>): WhoamiResponse => ({
    user: user(r),
    organization: named(r, 'organization'),
    workspace: named(r, 'workspace'),
    device: device(r, true),
  }),
  logout: (r: Record<string, unknown>): { unbound: boolean } => {
    if (typeof r.unbound !== 'boolean') throw new ShapeError('unbound is not a boolean');
    return { unbound: r.unbound };
  },
};

function describeBody(response: HttpResponse): string {
  const type = response.headers['content-type']?.split(';')[0]?.trim() || 'no content type';
  return `HTTP ${response.status}, ${type}`;
}

function notTheApi(backend: string, response: HttpResponse, why: string): BackendUnreachableError {
  return new BackendUnreachableError(
    `The backend at ${backend} did not answer as the Sekuire API (${describeBody(response)}: ${why}). Check the backend URL (--backend, SEKUIRE_BACKEND_URL); a captive portal or proxy may be answering instead.`,
    'bad_response',
    { backend, status: response.status, content_type: response.headers['content-type'] ?? null },
  );
}

function parseJson(backend: string, response: HttpResponse): Record<string, unknown> {
  const type = response.headers['content-type'] ?? '';
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type.trim())) {
    throw notTheApi(backend, response, 'not JSON');
  }
  let value: unknown;
  try {
    value = JSON.parse(response.body);
  } catch {
    throw notTheApi(backend, response, 'invalid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw notTheApi(backend, response, 'not a JSON object');
  }
  return value as Record<string, unknown>;
}

function boundDeviceOf(body: Record<string, unknown>): BoundDeviceSummary | undefined {
  const d = body.bound_device;
  if (typeof d !== 'object' || d === null) return undefined;
  const r = d as Record<string, unknown>;
  const s = (v: unknown) => (typeof v === 'string' ? clean(v) : '');
  return { name: s(r.name), os: s(r.os), bound_at: s(r.bound_at) };
}

/** Retry-After as whole seconds from now: it may be a number of seconds or an HTTP date. */
function retryAfterSeconds(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : null;
}

/** The typed error for a non-2xx answer. */
function errorFor(backend: string, response: HttpResponse): SekuireError {
  const { status } = response;
  let body: Record<string, unknown> | undefined;
  try {
    body = parseJson(backend, response);
  } catch (error) {
    if (status >= 500) body = undefined;
    else throw error;
  }
  const code = typeof body?.error === 'string' ? clean(body.error) : '';
  const serverMessage = typeof body?.message === 'string' ? clean(body.message) : '';
  const said = serverMessage ? ` The backend said: "${serverMessage}"` : '';
  if (status >= 500) {
    return new BackendUnreachableError(
      `The Sekuire backend at ${backend} failed (HTTP ${status}) after ${response.attempts} attempt${response.attempts === 1 ? '' : 's'}. Try again later.`,
      'backend_error',
      { backend, status },
    );
  }
  if (status === 429) {
    const retryAfter = retryAfterSeconds(response.headers['retry-after']);
    return new BackendUnreachableError(
      `The Sekuire backend at ${backend} is limiting requests from this address${retryAfter === null ? '' : `; retry in ${retryAfter} s`}.`,
      'rate_limited',
      { backend, retry_after: retryAfter },
    );
  }
  if (status === 401) {
    const reason =
      code === 'key_revoked'
        ? 'it was revoked'
        : code === 'key_expired'
          ? 'it has expired'
          : 'the backend does not know it';
    return new KeyRejectedError(
      code === 'key_revoked' || code === 'key_expired' ? code : 'invalid_key',
      `The API key was rejected: ${reason}. Create a new key on the dashboard, then run 'sekuire login'.`,
      { backend },
    );
  }
  if (status === 409 && code === 'device_mismatch') {
    const bound = boundDeviceOf(body ?? {});
    const where = bound
      ? `${bound.name || 'another device'} (${bound.os || 'unknown OS'}), bound ${bound.bound_at || 'earlier'}`
      : 'another device';
    return new DeviceMismatchError(
      `This key is bound to another device: ${where}. Run 'sekuire login --rebind' on this device to move the binding here.`,
      'device_mismatch',
      { backend, bound_device: bound ?? null },
    );
  }
  if (status === 402) {
    const upgrade = typeof body?.upgrade_url === 'string' ? clean(body.upgrade_url) : '';
    return new ForbiddenError(
      'plan_limit_exceeded',
      `Your plan's limit is reached.${said}${upgrade ? ` Upgrade at ${upgrade}` : ''}`,
      { backend, upgrade_url: upgrade || null },
    );
  }
  if (status === 403) {
    return new ForbiddenError('forbidden', `The key is not allowed to do this.${said}`, { backend });
  }
  if (status === 400 || status === 413) {
    return new SekuireError(
      code || 'invalid_request',
      `The backend refused the request as malformed (HTTP ${status}).${said} This is a bug in sekuire or a version mismatch with the backend; please report it.`,
      ExitCode.bug,
      { backend, status },
    );
  }
  return notTheApi(backend, response, code ? `error "${code}"` : 'unexpected status');
}

function networkMessage(backend: string, error: NetworkError, policy: NetworkPolicy): string {
  const where = `the Sekuire backend at ${backend}`;
  switch (error.kind) {
    case 'refused':
      return `Cannot reach ${where}: connection refused. Check that it is running and that the URL is right.`;
    case 'dns':
      return `Cannot reach ${where}: its host name does not resolve. Check the URL and your network.`;
    case 'connect_timeout':
    case 'timeout':
    case 'deadline':
      return `No answer from ${where} within ${Math.round(policy.deadlineMs / 1000)} s. Try again later, or raise SEKUIRE_TIMEOUT (seconds).`;
    case 'tls':
      return `Secure connection to ${where} failed (${error.detail ?? 'TLS error'}). If your network uses its own certificate authority, set NODE_EXTRA_CA_CERTS to its PEM file.`;
    case 'proxy':
      return `${error.message} Cannot reach ${where} through it: check HTTPS_PROXY and NO_PROXY.`;
    case 'redirect':
      return `${error.message} Sekuire does not send your key to another origin; use the backend's real URL.`;
    case 'too_large':
      return `The answer from ${where} is too large to be the Sekuire API. Check the backend URL.`;
    case 'reset':
      return `The connection to ${where} was reset. Try again later.`;
    default:
      return `Cannot reach ${where}: ${error.message}`;
  }
}

export class BackendClient {
  readonly backend: string;
  constructor(private readonly options: ClientOptions) {
    this.backend = options.backend.href.replace(/\/$/, '');
  }

  private async call<T>(
    request: Omit<HttpRequest, 'url' | 'headers'> & { path: string; device: boolean },
    parse: (body: Record<string, unknown>) => T,
  ): Promise<Timed<T>> {
    const { options } = this;
    const headers: Record<string, string> = { 'X-API-Key': options.apiKey };
    if (request.device) headers['X-Sekuire-Device'] = options.fingerprint;
    const url = apiUrl(options.backend, request.path);
    let response: HttpResponse;
    try {
      response = await send(
        { method: request.method, url, headers, body: request.body, retry: request.retry },
        { policy: options.policy, env: options.env, onEvent: options.onEvent },
      );
    } catch (error) {
      if (error instanceof NetworkError) {
        throw new BackendUnreachableError(
          networkMessage(this.backend, error, options.policy),
          `network_${error.kind}`,
          {
            backend: this.backend,
            attempts: error.attempts,
          },
        );
      }
      throw error;
    }
    if (response.status < 200 || response.status > 299) throw errorFor(this.backend, response);
    const body = parseJson(this.backend, response);
    try {
      return { body: parse(body), elapsedMs: response.elapsedMs, attempts: response.attempts, url: url.href };
    } catch (error) {
      if (error instanceof ShapeError) throw notTheApi(this.backend, response, error.message);
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
