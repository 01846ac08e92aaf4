// Counts failed key checks per client address with @fastify/rate-limit; valid keys never reach it.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface FailureLimit {
  /** Failed key checks allowed per address per window; the next one gets 429. */
  readonly max: number;
  readonly windowMs: number;
}

export const DEFAULT_FAILURE_LIMIT: FailureLimit = { max: 30, windowMs: 60_000 };

/** Addresses tracked at once; the least recently seen is forgotten first. */
const TRACKED_ADDRESSES = 10_000;

export type FailureVerdict =
  | { readonly limited: false }
  | { readonly limited: true; readonly retryAfterSeconds: number; readonly firstInWindow: boolean };

export type FailureCounter = (request: FastifyRequest) => Promise<FailureVerdict>;

/**
 * Registers the plugin without global hooks (`global: false`): the limiter is consulted only
 * after a key check has failed, so it cannot slow a request that carries a valid key.
 */
export async function registerFailureLimiter(
  app: FastifyInstance,
  limit: FailureLimit,
): Promise<FailureCounter> {
  await app.register(rateLimit, {
    global: false,
    max: limit.max,
    timeWindow: limit.windowMs,
    cache: TRACKED_ADDRESSES,
    // The plugin reports isBanned once the count passes max + ban; with ban = 1 the first
    // refused request is exactly the one that is over the limit but not banned. We never
    // send its 403: this only tells us when to write the one audit event per window.
    ban: 1,
  });
  // Without options, so the limiter uses the store sized above rather than a default child.
  const check = app.createRateLimit();
  return async (request) => {
    const result = await check(request);
    if (result.isAllowed || !result.isExceeded) return { limited: false };
    return {
      limited: true,
      retryAfterSeconds: Math.max(1, result.ttlInSeconds),
      firstInWindow: !result.isBanned,
    };
  };
}
