// The replay cache of device proofs shared by every instance on one PostgreSQL (domain/proofs.ts).
import type { Sql } from '../sql.js';

export interface NonceClaim {
  /** `<thumbprint>.<nonce>`. */
  readonly id: string;
  /** When the proof turns stale (created + the window): the row may be purged after. */
  readonly expiresAt: string;
}

/** Claims per statement at most (two parameters each). */
export const MAX_CLAIMS_PER_STATEMENT = 200;

export function nonceQueries(sql: Sql) {
  return {
    /**
     * Records the proofs' nonces; answers the ids that were new. An id some instance recorded
     * first is left out (a replay). One statement: the primary key decides between two
     * instances that see the same nonce at once.
     */
    async claim(claims: readonly NonceClaim[]): Promise<Set<string>> {
      if (claims.length === 0) return new Set();
      const rows = await sql.all<{ id: string }>(
        `INSERT INTO proof_nonces (id, expires_at) VALUES ${claims.map(() => '(?, ?)').join(', ')}
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        claims.flatMap((claim) => [claim.id, claim.expiresAt]),
      );
      return new Set(rows.map((row) => row.id));
    },

    /** Forgets nonces whose proofs are stale by now anyway. */
    purge(before: string): Promise<number> {
      return sql.run('DELETE FROM proof_nonces WHERE expires_at < ?', [before]);
    },
  };
}

export type NonceQueries = ReturnType<typeof nonceQueries>;
