// Retention: what has expired or been used goes, a small batch at a time, and the audit trail after its days.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
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
/** Rows per statement at most (and at first). */
export const PURGE_BATCH = 1_000;
const MIN_BATCH = 10;
/**
 * What one batch may take. On SQLite a statement runs on the event loop, so nothing else does
 * meanwhile: measured (docs/SERVER.md, "Retention"), batches of 1,000 took ~60 ms on a table of
 * a million rows with random keys, and the status p99 went from 7 to 360 ms. The batch size
 * follows this target instead: halved when a batch took twice as long, doubled when it took half.
 */
const TARGET_BATCH_MS = 5;
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;
const POSTGRES_ONLY: ReadonlySet<PurgeStep> = new Set(['cache_acks', 'instances']);

export interface PurgeOptions {
  readonly now: Date;
  /** Audit events older than this many days go; 0 keeps them all. */
  readonly auditRetentionDays: number;
  /** A fixed batch size (tests); without it PURGE_BATCH (SQLite: following TARGET_BATCH_MS). */
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

/**
 * Waits as long as the batch took: the purge has at most half of the time, and the requests that
 * arrived during a batch run before the next one.
 */
function yieldToRequests(batchMs: number): Promise<void> {
  return sleep(Math.min(Math.max(batchMs, 1), 100));
}

/** The next batch's size, from how long this one took. */
function nextSize(size: number, batchMs: number): number {
  if (batchMs > 2 * TARGET_BATCH_MS) return Math.max(MIN_BATCH, Math.floor(size / 2));
  if (batchMs < TARGET_BATCH_MS / 2) return Math.min(PURGE_BATCH, size * 2);
  return size;
}

/**
 * Deletes, batch by batch, every row that nothing can use any more. Each batch is a
 * transaction of its own; on PostgreSQL it first takes an advisory lock, so one instance purges
 * while the others find it taken and leave the work to it.
 */
export async function purgeExpired(store: Store, options: PurgeOptions): Promise<PurgeOutcome> {
  let size = options.batchSize ?? PURGE_BATCH;
  const deleted: Partial<Record<PurgeStep, number>> = {};
  let batches = 0;
  for (const step of PURGE_STEPS) {
    // The replay cache is in each process's memory on SQLite, and instances there have no
    // registry: these tables are PostgreSQL's alone.
    if (POSTGRES_ONLY.has(step) && store.engine !== 'postgres') continue;
    const before = cutoffOf(step, options);
    if (before === undefined) continue;
    deleted[step] = 0;
    for (;;) {
      if (options.stopping?.() === true) return { deleted, batches, ended: 'stopping' };
      const started = performance.now();
      const limit = size;
      const count = await store.transaction(async (tx) => {
        if (store.engine === 'postgres' && !(await tx.retention.purgeLock())) return undefined;
        return tx.retention.purgeBatch(step, before, limit);
      });
      if (count === undefined) return { deleted, batches, ended: 'elsewhere' };
      batches++;
      deleted[step] = (deleted[step] ?? 0) + count;
      if (count < limit) break;
      const batchMs = performance.now() - started;
      // On PostgreSQL the event loop is free while the database deletes: a batch's time is
      // mostly round trips there, and smaller batches would only make more of them.
      if (options.batchSize === undefined && store.engine === 'sqlite') size = nextSize(size, batchMs);
      await yieldToRequests(batchMs);
    }
  }
  return { deleted, batches, ended: 'done' };
}
