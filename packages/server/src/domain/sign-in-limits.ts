// Sign-in attempts are counted before any password is hashed (the hash is slow on purpose, so
// a flood must be refused before it costs anything), and in the store, so that several
// instances behind a load balancer share one budget: counted in each instance's memory, N
// instances would allow N times the guesses at an account.
import type { Store } from '../store/store.js';

export interface AttemptLimit {
  /** What is counted: an address (IPv6: its /64) or an account. */
  readonly key: string;
  /** Attempts allowed per window. */
  readonly max: number;
}

/** Ended windows are forgotten at most this often (per instance). */
const PURGE_EVERY_MS = 60_000;

export interface SignInCounter {
  /**
   * Counts one attempt against each limit in turn and stops at the first one exceeded: the
   * seconds until its window ends, or undefined when the attempt may go ahead.
   */
  attempt(limits: readonly AttemptLimit[], now: Date): Promise<number | undefined>;
}

export function signInCounter(store: Store, windowMs: number): SignInCounter {
  let purgedAt = 0;
  return {
    async attempt(limits, now) {
      const at = now.toISOString();
      if (now.getTime() - purgedAt >= PURGE_EVERY_MS) {
        purgedAt = now.getTime();
        await store.read.signInCounts.purge(at);
      }
      const windowEndsAt = new Date(now.getTime() + windowMs).toISOString();
      for (const limit of limits) {
        const counted = await store.read.signInCounts.hit(limit.key, at, windowEndsAt);
        if (counted.count > limit.max) {
          return Math.max(1, Math.ceil((Date.parse(counted.window_ends_at) - now.getTime()) / 1000));
        }
      }
      return undefined;
    },
  };
}
