// Deleting what has expired, one small batch per statement (domain/retention.ts decides what and when).
import type { Sql } from '../sql.js';

/**
 * What the purge deletes, in the order it runs: tokens before the sessions they belong to
 * (a foreign key), the rest in any order.
 */
export const PURGE_STEPS = [
  'session_tokens',
  'ended_session_tokens',
  'sessions',
  'cli_grants',
  'device_moves',
  'proof_nonces',
  'cache_acks',
  'instances',
  'sign_in_counts',
  'audit_events',
] as const;

export type PurgeStep = (typeof PURGE_STEPS)[number];

/**
 * Each statement deletes at most `limit` rows found through an index on the time compared
 * (migration 8), by primary key: the same text on both engines, and a batch costs the same
 * whatever the table's size. `before` is an ISO-8601 time: rows that ended before it go.
 * ORDER BY the indexed time keeps PostgreSQL on that index: without it, a sequential scan
 * read again, batch after batch, the rows earlier batches deleted (dead until vacuumed).
 */
const STATEMENTS: Readonly<Record<PurgeStep, string>> = {
  // An expired token does nothing any more. A used refresh token that has not expired stays:
  // presented again, it ends its session (domain/sessions.ts, reuse detection).
  session_tokens:
    'DELETE FROM session_tokens WHERE digest IN (SELECT digest FROM session_tokens WHERE expires_at < ? ORDER BY expires_at LIMIT ?)',
  // Every token of an ended session is refused, expired or not.
  ended_session_tokens: `DELETE FROM session_tokens WHERE digest IN (
     SELECT t.digest FROM sessions s JOIN session_tokens t ON t.session_id = s.id WHERE s.ended_at < ? LIMIT ?)`,
  sessions: `DELETE FROM sessions WHERE id IN (
     SELECT s.id FROM sessions s
     WHERE (s.expires_at < ? OR s.ended_at < ?)
       AND NOT EXISTS (SELECT 1 FROM session_tokens t WHERE t.session_id = s.id)
     LIMIT ?)`,
  // Expired: pending, approved, denied or exchanged, none of it can change any more.
  cli_grants:
    'DELETE FROM cli_grants WHERE id IN (SELECT id FROM cli_grants WHERE expires_at < ? ORDER BY expires_at LIMIT ?)',
  device_moves:
    'DELETE FROM device_moves WHERE id IN (SELECT id FROM device_moves WHERE expires_at < ? ORDER BY expires_at LIMIT ?)',
  proof_nonces:
    'DELETE FROM proof_nonces WHERE id IN (SELECT id FROM proof_nonces WHERE expires_at < ? ORDER BY expires_at LIMIT ?)',
  // PostgreSQL's bookkeeping of instances (postgres/listener.ts): an acknowledgement that came
  // after its writer stopped waiting is never deleted by the writer; an instance killed without
  // closing leaves its row. Neither matters once its time is a day past. Their times are the
  // database's (now()), so they are compared with its clock, not the server's.
  cache_acks: `DELETE FROM sekuire_cache_acks WHERE (epoch, instance_id) IN (
     SELECT epoch, instance_id FROM sekuire_cache_acks WHERE acked_at < now() - interval '1 day' LIMIT ?)`,
  instances: `DELETE FROM sekuire_instances WHERE id IN (
     SELECT id FROM sekuire_instances WHERE lease_until < now() - interval '1 day' LIMIT ?)`,
  sign_in_counts:
    'DELETE FROM sign_in_counts WHERE key IN (SELECT key FROM sign_in_counts WHERE window_ends_at <= ? ORDER BY window_ends_at LIMIT ?)',
  audit_events:
    'DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)',
};

/** Any constant other than the migrations' lock: the purge of one instance at a time. */
const PURGE_LOCK = 7_355_609;

export function retentionQueries(sql: Sql) {
  return {
    /** Deletes one batch; the number of rows deleted (less than `limit`: that step is done). */
    purgeBatch(step: PurgeStep, before: string, limit: number): Promise<number> {
      const params =
        step === 'sessions'
          ? [before, before, limit]
          : step === 'cache_acks' || step === 'instances'
            ? [limit]
            : [before, limit];
      return sql.run(STATEMENTS[step], params);
    },

    /**
     * PostgreSQL only, inside a transaction: whether this transaction may purge. An instance
     * whose batch finds the lock taken leaves the purge to the instance holding it.
     */
    async purgeLock(): Promise<boolean> {
      const row = await sql.get<{ got: boolean }>(`SELECT pg_try_advisory_xact_lock(${PURGE_LOCK}) AS got`);
      return row?.got === true;
    },
  };
}

export type RetentionQueries = ReturnType<typeof retentionQueries>;
