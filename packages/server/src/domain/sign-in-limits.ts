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
  /**
   * Reads without counting: the seconds until the window ends when `limit.max` have already
   * been counted in it, else undefined.
   */
  reached(limit: AttemptLimit, now: Date): Promise<number | undefined>;
  /** Counts one (a failure, counted once its outcome is known) under `key`. */
  count(key: string, now: Date): Promise<void>;
}

function secondsUntil(windowEndsAt: string, now: Date): number {
  return Math.max(1, Math.ceil((Date.parse(windowEndsAt) - now.getTime()) / 1000));
}

export function signInCounter(store: Store, windowMs: number): SignInCounter {
  let purgedAt = 0;
  const counts = store.read.signInCounts;
  const hit = async (key: string, now: Date) => {
    const at = now.toISOString();
    if (now.getTime() - purgedAt >= PURGE_EVERY_MS) {
      purgedAt = now.getTime();
      await counts.purge(at);
    }
    return counts.hit(key, at, new Date(now.getTime() + windowMs).toISOString());
  };
  return {
    async attempt(limits, now) {
      for (const limit of limits) {
        const counted = await hit(limit.key, now);
        if (counted.count > limit.max) return secondsUntil(counted.window_ends_at, now);
      }
      return undefined;
    },
    async reached(limit, now) {
      const counted = await counts.current(limit.key, now.toISOString());
      return counted !== undefined && counted.count >= limit.max
        ? secondsUntil(counted.window_ends_at, now)
        : undefined;
    },
    async count(key, now) {
      await hit(key, now);
    },
  };
}
