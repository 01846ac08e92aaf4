// Sign-in attempts counted in the database (domain/sign-in-limits.ts): every instance on one
// database shares the counts, and a restart does not reset them.
import type { Sql } from '../sql.js';

export interface AttemptCount {
  /** Attempts in the current window, this one included. */
  readonly count: number;
  /** When the window ends (ISO 8601): the count starts again from 1 after it. */
  readonly window_ends_at: string;
}

export function signInCountQueries(sql: Sql) {
  return {
    /**
     * Counts one attempt under `key`: 1 in a new window (none yet, or the last one ended by
     * `now`), else one more. One statement, so two instances counting at once both count.
     */
    async hit(key: string, now: string, windowEndsAt: string): Promise<AttemptCount> {
      const rows = await sql.all<AttemptCount>(
        `INSERT INTO sign_in_counts (key, count, window_ends_at) VALUES (?, 1, ?)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN sign_in_counts.window_ends_at <= ? THEN 1 ELSE sign_in_counts.count + 1 END,
           window_ends_at = CASE WHEN sign_in_counts.window_ends_at <= ?
             THEN excluded.window_ends_at ELSE sign_in_counts.window_ends_at END
         RETURNING count, window_ends_at`,
        [key, windowEndsAt, now, now],
      );
      const row = rows[0];
      if (row === undefined) throw new Error('counting a sign-in attempt returned no row');
      return { count: Number(row.count), window_ends_at: row.window_ends_at };
    },

    /** The count under `key` in its current window, without counting anything. */
    current(key: string, now: string): Promise<AttemptCount | undefined> {
      return sql
        .get<AttemptCount>(
          'SELECT count, window_ends_at FROM sign_in_counts WHERE key = ? AND window_ends_at > ?',
          [key, now],
        )
        .then((row) =>
          row === undefined ? undefined : { count: Number(row.count), window_ends_at: row.window_ends_at },
        );
    },

    /** Forgets the counts whose windows have ended. */
    purge(before: string): Promise<number> {
      return sql.run('DELETE FROM sign_in_counts WHERE window_ends_at <= ?', [before]);
    },
  };
}
