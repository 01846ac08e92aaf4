// Checks the API key on a request; failed checks are counted per address and may turn into 429.
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { KeyFormatError, parseKey } from '../core/key.js';
import { ApiError } from './api-error.js';
import { digestsEqual, keyDigest } from './digest.js';
import type { KeyState } from './key-cache.js';
import type { FailureCounter } from './rate-limit.js';
import type { Store } from './store.js';

export interface KeyAuthDeps {
  readonly store: Store;
  readonly secret: Buffer;
  readonly now: () => Date;
  readonly countFailure: FailureCounter;
}

/** X-API-Key, else `Authorization: Bearer <key>`; undefined when neither is there. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-api-key'];
  if (typeof header === 'string') return header;
  const authorization = headers.authorization;
  if (authorization === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S.*)$/i.exec(authorization);
  return match?.[1];
}

function isWellFormed(text: string): boolean {
  try {
    parseKey(text);
    return true;
  } catch (error) {
    if (error instanceof KeyFormatError) return false;
    throw error;
  }
}

/**
 * The record for a presented key, or undefined for an unknown or malformed one. A malformed
 * key is digested and looked up like any other, so the two cost the same and answer the same.
 */
function findKey(deps: KeyAuthDeps, text: string): KeyState | undefined {
  const wellFormed = isWellFormed(text);
  const digest = keyDigest(deps.secret, text.trim());
  const state = deps.store.keyState(digest);
  if (!wellFormed || state === undefined || !digestsEqual(state.record.digest, digest)) return undefined;
  return state;
}

type KeyCheck =
  | { readonly ok: true; readonly state: KeyState }
  | { readonly ok: false; readonly error: ApiError };

function checkKey(deps: KeyAuthDeps, text: string | undefined): KeyCheck {
  const state = text === undefined ? undefined : findKey(deps, text);
  if (state === undefined) return { ok: false, error: new ApiError(401, 'invalid_key', 'Invalid API key') };
  const { record } = state;
  if (record.key.revoked_at !== null) {
    return { ok: false, error: new ApiError(401, 'key_revoked', 'This API key has been revoked.') };
  }
  if (record.key.expires_at !== null && Date.parse(record.key.expires_at) <= deps.now().getTime()) {
    return {
      ok: false,
      error: new ApiError(401, 'key_expired', `This API key expired at ${record.key.expires_at}.`),
    };
  }
  return { ok: true, state };
}

/**
 * The key's record and binding (see key-cache.ts: a revocation or a rebinding applies to the
 * very next request). Throws the 401, or 429 once this address has failed too often; a valid
 * key never touches the failure counter.
 */
export async function authenticate(request: FastifyRequest, deps: KeyAuthDeps): Promise<KeyState> {
  const check = checkKey(deps, presentedKey(request.headers));
  if (check.ok) return check.state;
  const verdict = await deps.countFailure(request);
  if (!verdict.limited) throw check.error;
  if (verdict.firstInWindow) {
    deps.store.audit.record({
      at: deps.now().toISOString(),
      event: 'rate_limited',
      client_ip: request.ip,
      detail: { retry_after_seconds: verdict.retryAfterSeconds },
    });
  }
  throw new ApiError(
    429,
    'rate_limited',
    `Too many failed API key checks from this address; retry in ${verdict.retryAfterSeconds} seconds.`,
    {},
    { 'retry-after': String(verdict.retryAfterSeconds) },
  );
}
