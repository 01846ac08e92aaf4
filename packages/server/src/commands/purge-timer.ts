// The retention purge's schedule while `start` serves: shortly after start, then every hour.
import { type PurgeOutcome, purgeExpired } from '../domain/retention.js';
import type { Store } from '../store/store.js';

/** Long enough for the server to be serving first, short enough that a restart loop still purges. */
export const FIRST_PURGE_AFTER_MS = 10_000;
export const PURGE_EVERY_MS = 60 * 60_000;

export interface PurgeTimerOptions {
  readonly store: Store;
  readonly now: () => Date;
  readonly auditRetentionDays: number;
  /** One summary per purge: what went, in how many batches, how long it took. */
  readonly report: (outcome: PurgeOutcome, durationMs: number) => void;
  /** A purge that failed (the database away): the next one tries again. */
  readonly reportError: (error: unknown) => void;
}

export interface PurgeTimer {
  /** No further purge starts; resolves once the one under way (if any) ended at its next batch. */
  stop(): Promise<void>;
}

export function startPurgeTimer(options: PurgeTimerOptions): PurgeTimer {
  let stopping = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const purge = async () => {
    const started = performance.now();
    try {
      const outcome = await purgeExpired(options.store, {
        now: options.now(),
        auditRetentionDays: options.auditRetentionDays,
        stopping: () => stopping,
      });
      options.report(outcome, performance.now() - started);
    } catch (error) {
      options.reportError(error);
    }
  };
  const schedule = (afterMs: number) => {
    timer = setTimeout(() => {
      running = purge().finally(() => {
        running = undefined;
        if (!stopping) schedule(PURGE_EVERY_MS);
      });
    }, afterMs);
    // The timer alone never keeps the process alive.
    timer.unref();
  };
  schedule(FIRST_PURGE_AFTER_MS);

  return {
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await running;
    },
  };
}
