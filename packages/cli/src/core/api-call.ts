// Sends a request with the key in use and, for a bound key, a device proof over the bytes sent: `sekuire api` and the library.
import { type ApiKey, secretPart } from '@sekuire/shared/key';
import type { ApiRequest } from './api-request.js';
import { originOf } from './backend-url.js';
import type { DeviceKey } from './device-key.js';
import { BackendUnreachableError } from './errors.js';
import type { Env } from './home.js';
import { NetworkError } from './http/failures.js';
import type { NetworkPolicy } from './http/policy.js';
import { type HttpEvent, type HttpResponse, send } from './http/send.js';
import { proofHeaders } from './proof.js';

/** An answer this large is refused (exit 13): it is held in memory before it is printed. */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export interface Signer {
  readonly key: ApiKey;
  /** This device's key: the request is signed with it when given (a bound key needs it). */
  readonly proof?: DeviceKey;
  readonly fingerprint: string;
  /** The backend of the key in use: the only origin whose proof_stale answer corrects the clock. */
  readonly backend: URL;
  readonly wallClock?: () => number;
}

export interface CallOptions {
  readonly policy: NetworkPolicy;
  readonly env: Env;
  readonly onEvent?: (event: HttpEvent) => void;
}

/** Methods a retry cannot change the outcome of (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * The body for the proof: proof.ts takes text, and contentDigest hashes text as UTF-8, so a body
 * that is UTF-8 goes as the same text; other bytes go as they are (contentDigest hashes a Buffer
 * as is). Either way the digest is over exactly the bytes sent.
 */
function proofBody(body: string | Buffer | undefined): string | undefined {
  if (body === undefined || typeof body === 'string') return body;
  const text = body.toString('utf8');
  return Buffer.from(text, 'utf8').equals(body) ? text : (body as unknown as string);
}

/** The backend's time from a 401 proof_stale answer, else undefined. */
function staleServerTime(response: HttpResponse): number | undefined {
  if (response.status !== 401) return undefined;
  try {
    const body = JSON.parse(response.body) as { error?: unknown; server_time?: unknown };
    if (body.error !== 'proof_stale' || typeof body.server_time !== 'string') return undefined;
    const time = Date.parse(body.server_time);
    return Number.isNaN(time) ? undefined : time;
  } catch {
    return undefined;
  }
}

function unreachable(url: URL, error: NetworkError): BackendUnreachableError {
  const after = error.attempts > 1 ? ` (after ${error.attempts} attempts)` : '';
  return new BackendUnreachableError(`${error.message}${after}`, `network_${error.kind}`, {
    hint:
      error.kind === 'redirect'
        ? 'sekuire never sends the key to another origin: call the URL it redirects to, if it is an audience of yours'
        : 'Check the URL, your network and that the server is up, then try again',
    details: { url: originOf(url), attempts: error.attempts },
  });
}

/**
 * Sends `request` with X-API-Key, X-Sekuire-Device and, when the signer has a device key, a
 * fresh proof for each attempt. A proof the backend finds stale is made again once with the
 * backend's clock. No answer at all is a BackendUnreachableError (exit 13).
 */
export async function sendSigned(
  request: ApiRequest,
  signer: Signer,
  options: CallOptions,
): Promise<HttpResponse> {
  let skewSeconds = 0;
  const wallClock = signer.wallClock ?? Date.now;
  const { proof } = signer;
  const once = async (): Promise<HttpResponse> => {
    try {
      return await send(
        {
          method: request.method,
          url: request.url,
          key: signer.key,
          headers: { ...request.headers, 'X-Sekuire-Device': signer.fingerprint },
          ...(request.body !== undefined && { body: request.body }),
          retry: IDEMPOTENT.has(request.method) ? 'idempotent' : 'unsent-only',
          ...(proof !== undefined && {
            sign: (method: string, url: URL, body: string | Buffer | undefined) =>
              proofHeaders(proof, method, url, proofBody(body), wallClock() / 1000 + skewSeconds),
          }),
        },
        {
          policy: { ...options.policy, maxBodyBytes: MAX_ANSWER_BYTES },
          env: options.env,
          ...(options.onEvent !== undefined && { onEvent: options.onEvent }),
        },
      );
    } catch (error) {
      if (error instanceof NetworkError) throw unreachable(request.url, error);
      throw error;
    }
  };
  const response = await once();
  const serverTime =
    proof !== undefined && originOf(request.url) === originOf(signer.backend)
      ? staleServerTime(response)
      : undefined;
  if (serverTime === undefined) return response;
  skewSeconds = (serverTime - wallClock()) / 1000;
  return once();
}

/** The answer's bytes with the key in use masked, should the answer echo it (text or not). */
export function withoutKey(bytes: Buffer, key: ApiKey): Buffer {
  let out = bytes;
  for (const [secret, shown] of [
    [key.value, key.masked],
    [secretPart(key), '[redacted]'],
  ] as const) {
    if (out.indexOf(secret) < 0) continue;
    const parts: Buffer[] = [];
    let from = 0;
    for (let at = out.indexOf(secret); at >= 0; at = out.indexOf(secret, from)) {
      parts.push(out.subarray(from, at), Buffer.from(shown));
      from = at + secret.length;
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}
