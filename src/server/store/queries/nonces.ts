// The replay cache of device proofs shared by every instance on one PostgreSQL (domain/proofs.ts).
import type { Sql } from '../sql.js';

export function nonceQueries(sql: Sql) {
  return {
    /**
     * Records a proof's nonce; false when some instance recorded it first (a replay). One
     * statement: the primary key decides between two instances that see the same nonce at once.
     */
    async claim(id: string, expiresAt: string): Promise<boolean> {
      return (
        (await sql.run(
          'INSERT INTO proof_nonces (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING',
          [id, expiresAt],
        )) === 1
      );
    },

    /** Forgets nonces whose proofs are stale by now anyway. */
    purge(before: string): Promise<number> {
      return sql.run('DELETE FROM proof_nonces WHERE expires_at < ?', [before]);
    },
  };
}

export type NonceQueries = ReturnType<typeof nonceQueries>;
