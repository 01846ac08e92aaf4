// Why a key was revoked, when someone other than its owner revoked it (domain/leaks.ts).
import type { Sql } from '../sql.js';

export type RevocationReason = 'leaked' | 'reported';

export interface RevocationRow {
  readonly key_id: string;
  readonly at: string;
  /** leaked: found by GitHub's secret scanning; reported: through the public revocation endpoint. */
  readonly reason: RevocationReason;
  /** Where the key was found, as the report said (any text: shown escaped, linked only when http(s)). */
  readonly url: string | null;
  readonly source: string | null;
  readonly token_type: string | null;
}

/** Ids per statement at most. */
const MAX_IDS = 500;

export function revocationQueries(sql: Sql) {
  return {
    async record(row: RevocationRow): Promise<void> {
      await sql.run(
        `INSERT INTO key_revocations (key_id, at, reason, url, source, token_type) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (key_id) DO NOTHING`,
        [row.key_id, row.at, row.reason, row.url, row.source, row.token_type],
      );
    },

    /** The reasons recorded for these keys (most have none). */
    async forKeys(keyIds: readonly string[]): Promise<RevocationRow[]> {
      const rows: RevocationRow[] = [];
      for (let start = 0; start < keyIds.length; start += MAX_IDS) {
        const ids = keyIds.slice(start, start + MAX_IDS);
        rows.push(
          ...(await sql.all<RevocationRow>(
            `SELECT key_id, at, reason, url, source, token_type FROM key_revocations
             WHERE key_id IN (${ids.map(() => '?').join(', ')})`,
            ids,
          )),
        );
      }
      return rows;
    },
  };
}

export type RevocationQueries = ReturnType<typeof revocationQueries>;
