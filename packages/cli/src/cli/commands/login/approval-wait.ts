// Waiting for a person to approve in a browser (device code, move): poll at the backend's pace, give up on time.
import type { Context } from '../../context.js';

/** RFC 8628 §3.5: each slow_down adds 5 seconds to the polling interval. */
const SLOW_DOWN_MS = 5_000;

/** "45 seconds", "15 minutes": how long, as a person reads it. */
export function minutes(ms: number): string {
  const [count, unit] =
    ms < 90_000 ? [Math.max(1, Math.round(ms / 1000)), 'second'] : [Math.round(ms / 60_000), 'minute'];
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

export interface Approval<T> {
  /** Seconds until the backend forgets the request. */
  readonly expiresIn: number;
  /** Seconds between polls, as the backend asked. */
  readonly interval: number;
  /** `--timeout`, when shorter than the expiry. */
  readonly timeoutMs: number | undefined;
  /** One poll: 'pending' and 'slow_down' keep waiting; any other answer ends the wait. */
  readonly poll: () => Promise<T | 'pending' | 'slow_down'>;
}

export type WaitEnd<T> =
  | { readonly kind: 'answer'; readonly answer: T }
  /** The request expired at the backend before anyone decided. */
  | { readonly kind: 'expired' }
  /** `--timeout` passed first. */
  | { readonly kind: 'timeout'; readonly ms: number };

export async function waitForApproval<T>(ctx: Context, approval: Approval<T>): Promise<WaitEnd<T>> {
  const expiresMs = approval.expiresIn * 1000;
  const waitMs = Math.min(expiresMs, approval.timeoutMs ?? expiresMs);
  const started = ctx.now().getTime();
  let intervalMs = approval.interval * 1000;
  for (;;) {
    const left = started + waitMs - ctx.now().getTime();
    if (left <= 0) return waitMs < expiresMs ? { kind: 'timeout', ms: waitMs } : { kind: 'expired' };
    await ctx.sleep(Math.min(intervalMs, left));
    const answer = await approval.poll();
    if (answer === 'pending') continue;
    if (answer === 'slow_down') {
      intervalMs += SLOW_DOWN_MS;
      continue;
    }
    return { kind: 'answer', answer };
  }
}
