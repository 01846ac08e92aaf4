// Counts failed key checks per client address and across all of them, with @fastify/rate-limit.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface FailureLimit {
  /** Failed key checks allowed per address (IPv6: per /64) per window; the next one gets 429. */
  readonly max: number;
  /** Failed key checks allowed from all addresses together per window. */
  readonly globalMax: number;
  readonly windowMs: number;
}

/**
 * 30 per address: a person mistyping never meets it. 600 from everywhere: someone rotating
 * through addresses (a /64 of IPv6, or 127.x.y.z on the server's own machine) meets this one.
 */
export const DEFAULT_FAILURE_LIMIT: FailureLimit = { max: 30, globalMax: 600, windowMs: 60_000 };

/** Addresses tracked at once; the least recently seen is forgotten first. */
const TRACKED_ADDRESSES = 10_000;
/** An IPv6 customer gets a /64 (RFC 6177): its addresses are one client to the limiter. */
const IPV6_PREFIX = 64;

export type FailureVerdict =
  | { readonly limited: false }
  | {
      readonly limited: true;
      readonly retryAfterSeconds: number;
      /** True for the first refusal of a window (the one worth an audit event). */
      readonly firstInWindow: boolean;
      readonly scope: 'address' | 'global';
    };

export type FailureCounter = (request: FastifyRequest) => Promise<FailureVerdict>;

/**
 * Registers the plugin without global hooks (`global: false`): the limiters are consulted only
 * after a key check has failed, so they cannot slow a request that carries a valid key.
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
    ipv6Subnet: IPV6_PREFIX,
    // The plugin reports isBanned once the count passes max + ban; with ban = 1 the first
    // refused request is exactly the one that is over the limit but not banned. We never send
    // its 403: this only tells us when to write the one audit event per window.
    ban: 1,
  });
  // Without options, so the limiter uses the store sized above rather than a default child.
  const perAddress = app.createRateLimit();
  const everywhere = app.createRateLimit({
    max: limit.globalMax,
    timeWindow: limit.windowMs,
    keyGenerator: () => 'all-addresses',
  });
  return async (request) => {
    for (const [check, scope] of [
      [perAddress, 'address'],
      [everywhere, 'global'],
    ] as const) {
      const result = await check(request);
      if (!result.isAllowed && result.isExceeded) {
        return {
          limited: true,
          retryAfterSeconds: Math.max(1, result.ttlInSeconds),
          firstInWindow: !result.isBanned,
          scope,
        };
      }
    }
    return { limited: false };
  };
}
