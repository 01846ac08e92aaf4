// Device codes asked for, counted per client address and across all of them. Each code is a row
// written for a client nobody has authenticated yet (its proof only shows it holds some device
// key, and anyone can make one), so without a limit one client could write as fast as it sends.
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface DeviceCodeLimit {
  /** Codes per address (IPv6: per /64) per window; the next one gets 429. */
  readonly perAddress: number;
  /** Codes from all addresses together per window, on this instance. */
  readonly overall: number;
  readonly windowMs: number;
}

/**
 * A person starts a device login once or twice; 20 covers an office behind one address. The
 * overall cap bounds what addresses taken in turn can write: 600 rows per 15 minutes per instance.
 */
export const DEFAULT_DEVICE_CODE_LIMIT: DeviceCodeLimit = {
  perAddress: 20,
  overall: 600,
  windowMs: 15 * 60_000,
};

export interface DeviceCodeRefusal {
  readonly retryAfterSeconds: number;
  readonly scope: 'address' | 'global';
  /** True for the first refusal of a window (the one worth an audit event). */
  readonly firstInWindow: boolean;
}

/** Undefined when a code may be made; else why not, and for how long. */
export type DeviceCodeGate = (request: FastifyRequest) => Promise<DeviceCodeRefusal | undefined>;

/**
 * Counted in this instance's memory (the limiter registered in rate-limit.ts), before the proof is
 * checked: a refused request writes nothing, not even a proof's nonce. Each instance counts for
 * itself; what the caps bound is the writes, and N instances still bound them.
 */
export function deviceCodeGate(app: FastifyInstance, limit: DeviceCodeLimit): DeviceCodeGate {
  const perAddress = app.createRateLimit({ max: limit.perAddress, timeWindow: limit.windowMs });
  const overall = app.createRateLimit({
    max: limit.overall,
    timeWindow: limit.windowMs,
    keyGenerator: () => 'all-addresses',
  });
  return async (request) => {
    for (const [check, scope] of [
      [perAddress, 'address'],
      [overall, 'global'],
    ] as const) {
      const result = await check(request);
      if (!result.isAllowed && result.isExceeded) {
        // ban = 1 (rate-limit.ts): only the first refused request of a window is not "banned".
        return {
          retryAfterSeconds: Math.max(1, result.ttlInSeconds),
          scope,
          firstInWindow: !result.isBanned,
        };
      }
    }
    return undefined;
  };
}
