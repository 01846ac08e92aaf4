// A key's past bindings to one device: what `status` tells a stored login whose binding ended.
import type { Sql } from '../sql.js';

export interface PastBindingRow {
  readonly bound_at: string;
  readonly unbound_at: string | null;
  /** The binding that began as this one ended, on another device: a move. */
  readonly moved_to_name: string | null;
  readonly moved_to_os: string | null;
}

export function bindingHistoryQueries(sql: Sql) {
  return {
    /** The latest binding of the key to this fingerprint (ended or not), and what replaced it. */
    lastOn(keyId: string, fingerprint: string): Promise<PastBindingRow | undefined> {
      return sql.get<PastBindingRow>(
        `SELECT d.bound_at, d.unbound_at, n.name AS moved_to_name, n.os AS moved_to_os
         FROM devices d
         LEFT JOIN devices n ON n.key_id = d.key_id AND n.bound_at = d.unbound_at AND n.fingerprint <> d.fingerprint
         WHERE d.key_id = ? AND d.fingerprint = ?
         ORDER BY d.bound_at DESC, n.bound_at DESC
         LIMIT 1`,
        [keyId, fingerprint],
      );
    },
  };
}
