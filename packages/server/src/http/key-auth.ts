// Checks the API key on a request; failed checks of unknown keys are counted and may turn into 429.

import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { Secrets } from '../domain/digest.js';
import { checkKey, recordKeyUse } from '../domain/key-check.js';
import { StoreError } from '../store/errors.js';
import type { KeyState } from '../store/key-cache.js';
import type { Store } from '../store/store.js';
import { ApiError, rateLimited } from './api-error.js';
import type { Observer } from './observer.js';
import type { FailureCounter } from './rate-limit.js';
import { identify } from './request-log.js';

export interface KeyAuthDeps {
  readonly store: Store;
  /** Keys new digests (the newest secret). */
  readonly secret: Buffer;
  /** Every secret, newest (secret) first: what a lookup by digest tries. */
  readonly secrets: Secrets;
  readonly now: () => Date;
  readonly countFailure: FailureCounter;
  readonly observe?: Observer;
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

/**
 * The key's record and binding (a revocation or a move applies to the very next request, see
 * store/key-cache.ts). Throws the 401, or 429 once this address (or every address together) has
 * failed too often. Only unknown keys count as failures: a valid key never touches the limiter,
 * and a revoked or expired one is told so (it is not a guess, and its owner needs the truth).
 */
export async function authenticate(request: FastifyRequest, deps: KeyAuthDeps): Promise<KeyState> {
  const now = deps.now();
  const check = await checkKey(deps.store, deps.secrets, presentedKey(request.headers), now);
  deps.observe?.keyChecked(check.ok ? 'valid' : check.reason);
  if (check.ok) {
    identify(request, { key_id: check.state.record.key.id });
    try {
      await recordKeyUse(deps.store, check.state, now);
    } catch (error) {
      // "Last used" is bookkeeping: a database that cannot take the write must not fail the check.
      if (!(error instanceof StoreError)) throw error;
    }
    return check.state;
  }
  if (check.reason === 'revoked') throw new ApiError('key_revoked', 'This API key has been revoked.');
  if (check.reason === 'expired') {
    throw new ApiError('key_expired', `This API key expired at ${check.expiresAt}.`, {
      expires_at: check.expiresAt,
    });
  }
  const verdict = await deps.countFailure(request);
  if (!verdict.limited) throw new ApiError('invalid_key', 'Invalid API key');
  if (verdict.firstInWindow) {
    await deps.store.read.audit.record({
      at: now.toISOString(),
      event: 'rate_limited',
      client_ip: request.ip,
      detail: { retry_after_seconds: verdict.retryAfterSeconds, scope: verdict.scope },
    });
  }
  const who = verdict.scope === 'address' ? 'this address' : 'all addresses together';
  throw rateLimited(`failed API key checks from ${who}`, verdict.retryAfterSeconds);
}
