// Asks the Sekuire server (POST /api/v1/verify) whether a request is genuine; checks its body against Content-Digest first.
import { createHash } from 'node:crypto';
import type { Outcome, ReceivedRequest, Refusal, SekuireIdentity, VerifyOptions } from './types.js';

/** The headers the server needs from the client's request, and no others (cookies stay here). */
const FORWARDED = [
  'x-api-key',
  'authorization',
  'x-sekuire-device',
  'signature-input',
  'signature',
  'content-digest',
];

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 5000;

export function refusal(status: number, error: string, message: string): Outcome {
  return { ok: false, refusal: { status, error, message } };
}

/** RFC 9530 Content-Digest of the bytes received, as the CLI computes it. */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `https://Deploy.example.com:443` -> its origin and its authority (`deploy.example.com`). */
function parseOrigin(text: string): { origin: string; host: string } {
  const url = new URL(text);
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname !== '/' || url.search !== '') {
    throw new Error(`sekuire-verify: origin must be an http(s) origin without a path, not "${text}"`);
  }
  return { origin: url.origin, host: url.host };
}

export interface Verifier {
  verify(request: ReceivedRequest): Promise<Outcome>;
}

/** Where a refusal's code leads: a missing permission is 403, everything else 401. */
function statusOf(code: string): number {
  return code === 'forbidden' ? 403 : 401;
}

export function createVerifier(options: VerifyOptions): Verifier {
  if (typeof options.key !== 'string' || options.key === '') {
    throw new Error('sekuire-verify: options.key is required (a server key with the verify permission)');
  }
  const endpoint = new URL('/api/v1/verify', options.server).href;
  const origins = (typeof options.origin === 'string' ? [options.origin] : (options.origin ?? [])).map(
    parseOrigin,
  );
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Kept in a closure, never on an object a logger could print.
  const verifyKey = options.key;

  /** The URL the client sent the request to: one of this service's origins, or its Host as it came. */
  function requestUrl(request: ReceivedRequest): string | Refusal {
    const scheme = request.https ? 'https' : 'http';
    let authority: string | undefined;
    try {
      authority = request.host === undefined ? undefined : new URL(`${scheme}://${request.host}`).host;
    } catch {
      authority = undefined;
    }
    if (origins.length > 0) {
      const found =
        origins.find((entry) => entry.host === authority) ??
        (authority === undefined ? origins[0] : undefined);
      if (found === undefined) {
        return {
          status: 401,
          error: 'invalid_proof',
          message: 'The request is addressed to a host this service does not serve.',
        };
      }
      return `${found.origin}${request.target}`;
    }
    if (authority === undefined) {
      return { status: 400, error: 'invalid_request', message: 'The request has no Host header.' };
    }
    return `${scheme}://${authority}${request.target}`;
  }

  return {
    async verify(request) {
      const digest = single(request.headers['content-digest']);
      if (digest !== undefined && digest !== contentDigest(request.body)) {
        return refusal(401, 'invalid_proof', 'The Content-Digest header does not match the body received.');
      }
      const url = requestUrl(request);
      if (typeof url !== 'string') return { ok: false, refusal: url };
      const headers: Record<string, string> = {};
      for (const name of FORWARDED) {
        const value = single(request.headers[name]);
        if (value !== undefined) headers[name] = value;
      }
      let response: Response;
      try {
        response = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': verifyKey },
          body: JSON.stringify({ request: { method: request.method, url, headers } }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch {
        return refusal(
          503,
          'service_unavailable',
          'The request cannot be verified now: the Sekuire server did not answer.',
        );
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        return refusal(
          503,
          'service_unavailable',
          `The request cannot be verified now: the Sekuire server answered ${response.status} to this service's verify key.`,
        );
      }
      const answer = (await response.json()) as
        | ({ valid: true } & SekuireIdentity)
        | { valid: false; code: string; message: string };
      if (!answer.valid) return refusal(statusOf(answer.code), answer.code, answer.message);
      const { valid: _valid, ...identity } = answer;
      return { ok: true, identity };
    },
  };
}

/** Whether the identity holds every permission; the refusal when it does not. */
export function permissionRefusal(
  identity: SekuireIdentity | undefined | null,
  required: readonly string[],
): Refusal | undefined {
  if (identity === undefined || identity === null) {
    return {
      status: 401,
      error: 'invalid_key',
      message: 'This route needs a verified Sekuire key: register sekuire-verify before it.',
    };
  }
  const missing = required.filter((permission) => !identity.key.permissions.includes(permission));
  if (missing.length === 0) return undefined;
  return {
    status: 403,
    error: 'forbidden',
    message: `This API key lacks the permission${missing.length === 1 ? '' : 's'} ${missing.join(', ')}.`,
  };
}
