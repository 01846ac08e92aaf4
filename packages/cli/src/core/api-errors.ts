// Answers that are not a success, and requests that got no answer, as typed errors: what happened, then the next action.
import type { BoundDeviceSummary, Json, Reader } from './answers.js';
import { humanTime } from './dates.js';
import {
  BackendUnreachableError,
  DeviceMismatchError,
  ForbiddenError,
  KeyRejectedError,
  SekuireError,
} from './errors.js';
import type { NetworkError } from './http/failures.js';
import { formatDuration, type NetworkPolicy } from './http/policy.js';
import type { HttpResponse } from './http/send.js';
import { MAX_MESSAGE } from './text.js';

/** The backend a call went to, as the messages need it. */
export interface Where {
  /** Its URL as shown: no trailing slash. */
  readonly backend: string;
  readonly url: URL;
  /** Where the URL came from: a flag, a variable, config.json, a stored login. */
  readonly source: string;
  readonly read: Reader;
  readonly policy: NetworkPolicy;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Retry-After as whole seconds from now: it may be a number of seconds or an HTTP date. */
function retryAfterSeconds(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : null;
}

/** What to check when the answer is not the API: a path the user added, else the URL's source. */
function checkUrlHint(at: Where): string {
  const { url: backend, source: backendSource } = at;
  const path = backend.pathname.replace(/\/+$/, '');
  if (path !== '') {
    return `The backend URL has a path (${path}), and sekuire adds /api/v1/... itself: try ${backend.origin} (from ${backendSource})`;
  }
  return `Check the backend URL (from ${backendSource}); a captive portal or proxy may be answering instead`;
}

export function notTheApi(at: Where, response: HttpResponse, why: string): BackendUnreachableError {
  const type = response.headers['content-type']?.split(';')[0]?.trim() || 'no content type';
  return new BackendUnreachableError(
    `The backend at ${at.backend} did not answer as the Sekuire API (HTTP ${response.status}, ${at.read.clean(type)}: ${why}).`,
    'bad_response',
    {
      hint: checkUrlHint(at),
      details: {
        backend: at.backend,
        status: response.status,
        content_type: response.headers['content-type'] === undefined ? null : at.read.clean(type),
      },
    },
  );
}

export function parseJson(at: Where, response: HttpResponse): Json {
  const type = response.headers['content-type'] ?? '';
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type.trim())) throw notTheApi(at, response, 'not JSON');
  let value: unknown;
  try {
    value = JSON.parse(response.body);
  } catch {
    throw notTheApi(at, response, 'invalid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw notTheApi(at, response, 'not a JSON object');
  }
  return value as Json;
}

/**
 * The backend refused this device's proof: the credentials are here, but the device key that
 * was bound with them is not (a copied auth.json), or the clock is off.
 */
function proofRefused(at: Where, code: string, serverMessage: string): SekuireError {
  const said = serverMessage ? ` The backend said: "${serverMessage}"` : '';
  if (code === 'proof_stale') {
    return new DeviceMismatchError(
      `The backend refused this device's proof as too old or too new: this machine's clock is off.${said}`,
      code,
      {
        hint: 'Set the clock right (e.g. enable NTP), then try again',
        details: { backend: at.backend },
      },
    );
  }
  return new DeviceMismatchError(
    `The backend refused this device's proof (${code}): the key is bound to a device key this machine does not hold.${said}`,
    code,
    {
      hint: "If this is your device, run 'sekuire login --rebind' and approve the move in the browser",
      details: { backend: at.backend },
    },
  );
}

/** "vm (linux, Debian GNU/Linux 12), bound 2026-12-06 23:28 UTC": enough to tell two "vm"s apart. */
export function describeBound(bound: BoundDeviceSummary): string {
  const os = [bound.os || 'unknown OS', bound.os_version].filter(Boolean).join(', ');
  return `${bound.name || 'another device'} (${os}), bound ${bound.bound_at ? humanTime(bound.bound_at) : 'earlier'}`;
}

/** The typed error for a non-2xx answer. */
export function errorFor(at: Where, response: HttpResponse): SekuireError {
  const { status } = response;
  const { backend, read } = at;
  let body: Json | undefined;
  try {
    body = parseJson(at, response);
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
  if (status === 401 && (code.startsWith('proof_') || code === 'invalid_proof')) {
    return proofRefused(at, code, serverMessage);
  }
  if (status === 401) {
    const known = code === 'key_revoked' || code === 'key_expired';
    const reason =
      code === 'key_revoked'
        ? 'it was revoked'
        : code === 'key_expired'
          ? 'it has expired'
          : 'the backend does not know it';
    const expiresAt = code === 'key_expired' ? read.loose(body, 'expires_at') : '';
    return new KeyRejectedError(
      known ? code : 'invalid_key',
      `The API key was rejected: ${expiresAt ? `it expired on ${humanTime(expiresAt)}` : reason}.`,
      {
        hint: "Create a new key on the dashboard, then run 'sekuire login'",
        details: { backend, reason, ...(expiresAt && { expires_at: expiresAt }) },
      },
    );
  }
  if (status === 409 && code === 'device_mismatch') {
    const bound = read.boundDevice(body);
    const where = bound ? describeBound(bound) : 'another device';
    // This machine's fingerprint, another device key: a copied login, or a replaced device-key.json.
    const message =
      body?.reason === 'device_key'
        ? `This key is bound to this machine, but to another device key (${where}): device-key.json was replaced, or the login was copied from another home.`
        : `This key is bound to another device: ${where}.`;
    return new DeviceMismatchError(message, 'device_mismatch', {
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
  return notTheApi(at, response, code ? `error "${code}"` : 'unexpected status');
}

export function unreachable(at: Where, error: NetworkError): BackendUnreachableError {
  const where = `the Sekuire backend at ${at.backend}`;
  const after = error.attempts > 1 ? `, after ${plural(error.attempts, 'attempt')}` : '';
  const later = 'Try again later';
  const say = (message: string, hint?: string) =>
    new BackendUnreachableError(message, `network_${error.kind}`, {
      ...(hint ? { hint } : {}),
      details: { backend: at.backend, attempts: error.attempts },
    });
  const { limit } = error;
  switch (error.kind) {
    case 'refused':
      return say(
        `Cannot reach ${where}: connection refused${after}.`,
        'Check that it is running and that the URL is right',
      );
    case 'dns':
      return say(`Cannot reach ${where}: its host name does not resolve.`, 'Check the URL and your network');
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
        `No answer from ${where} within ${formatDuration(limit?.ms ?? at.policy.deadlineMs)} (the total deadline)${after}.`,
        `${later}, or raise SEKUIRE_TIMEOUT or 'sekuire config set timeout' (seconds)`,
      );
    case 'not_tls': {
      const plain = new URL(at.backend);
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
      return say(`The answer from ${where} is too large to be the Sekuire API.`, checkUrlHint(at));
    case 'reset':
      return say(`The connection to ${where} was reset${after}.`, later);
    default:
      return say(`Cannot reach ${where}: ${error.message}`);
  }
}
