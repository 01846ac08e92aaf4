// Retention: what has expired or been used goes, a small batch at a time, and the audit trail after its days.
import { PROOF_WINDOW_S } from '@sekuire/shared/proof-format';
import { PURGE_STEPS, type PurgeStep } from '../store/queries/retention.js';
import type { Store } from '../store/store.js';

const DAY_MS = 24 * 60 * 60_000;

/**
 * Grants, moves and sessions stay a day after they expire or end: a CLI polling late, or a
 * person following an hour-old link, is told "expired" rather than "not found", and the
 * instances' clocks need not agree to the second.
 */
export const EXPIRED_KEPT_MS = DAY_MS;
/**
 * A nonce stays one more proof window past its expiry: another instance whose clock runs
 * behind this one's still accepts proofs that old, and must still find them (PROTOCOL.md,
 * "The replay cache").
 */
export const NONCES_KEPT_MS = PROOF_WINDOW_S * 1000;
/**
 * Rows per statement. Measured (docs/SERVER.md, "Retention"): a batch of 1,000 takes a few
 * milliseconds on either engine, and on SQLite no other statement runs meanwhile.
 */
export const PURGE_BATCH = 1_000;
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;

export interface PurgeOptions {
  readonly now: Date;
  /** Audit events older than this many days go; 0 keeps them all. */
  readonly auditRetentionDays: number;
  readonly batchSize?: number;
  /** Checked between batches: a server that is stopping ends its purge there. */
  readonly stopping?: () => boolean;
}

export interface PurgeOutcome {
  /** Rows deleted per step (steps that do not apply to the engine are absent). */
  readonly deleted: Partial<Record<PurgeStep, number>>;
  readonly batches: number;
  /** Why the purge ended before it was done, if it did. */
  readonly ended: 'done' | 'stopping' | 'elsewhere';
}

function cutoffOf(step: PurgeStep, options: PurgeOptions): string | undefined {
  const now = options.now.getTime();
  switch (step) {
    case 'proof_nonces':
      return new Date(now - NONCES_KEPT_MS).toISOString();
    case 'sign_in_counts':
      // An ended window counts from 1 again anyway (sign-in-counts.ts): nothing to keep.
      return options.now.toISOString();
    case 'audit_events':
      return options.auditRetentionDays === 0
        ? undefined
        : new Date(now - options.auditRetentionDays * DAY_MS).toISOString();
    default:
      return new Date(now - EXPIRED_KEPT_MS).toISOString();
  }
}

/** Lets requests that arrived during a batch run before the next one. */
function yieldToRequests(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Deletes, batch by batch, every row that nothing can use any more. Each batch is a
 * transaction of its own; on PostgreSQL it first takes an advisory lock, so one instance purges
 * while the others find it taken and leave the work to it.
 */
export async function purgeExpired(store: Store, options: PurgeOptions): Promise<PurgeOutcome> {
  const batchSize = options.batchSize ?? PURGE_BATCH;
  const deleted: Partial<Record<PurgeStep, number>> = {};
  let batches = 0;
  for (const step of PURGE_STEPS) {
    // The replay cache is in each process's memory on SQLite: there is no table to purge.
    if (step === 'proof_nonces' && store.engine !== 'postgres') continue;
    const before = cutoffOf(step, options);
    if (before === undefined) continue;
    deleted[step] = 0;
    for (;;) {
      if (options.stopping?.() === true) return { deleted, batches, ended: 'stopping' };
      const count = await store.transaction(async (tx) => {
        if (store.engine === 'postgres' && !(await tx.retention.purgeLock())) return undefined;
        return tx.retention.purgeBatch(step, before, batchSize);
      });
      if (count === undefined) return { deleted, batches, ended: 'elsewhere' };
      batches++;
      deleted[step] = (deleted[step] ?? 0) + count;
      if (count < batchSize) break;
      await yieldToRequests();
    }
  }
  return { deleted, batches, ended: 'done' };
}
