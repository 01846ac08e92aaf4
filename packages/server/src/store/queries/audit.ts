// The audit trail: who created, bound, moved, unbound or revoked what, from where; append-only.
import type { Sql } from '../sql.js';

export type AuditEventName =
  | 'create'
  | 'bind'
  | 'refresh'
  | 'move'
  | 'unbind'
  | 'revoke'
  | 'roll'
  | 'rate_limited'
  | 'user_create'
  | 'user_update'
  | 'password_set'
  | 'user_remove'
  | 'member_remove'
  | 'role_change'
  | 'key_transfer'
  | 'user_invite'
  | 'sign_in'
  | 'sign_in_failed'
  | 'sign_out'
  | 'session_reuse'
  | 'cli_approve'
  | 'cli_deny'
  | 'device_key_added'
  | 'move_request'
  | 'move_deny'
  | 'proof_refused';

export interface AuditInput {
  readonly at: string;
  readonly event: AuditEventName;
  readonly key_id?: string | null;
  readonly fingerprint?: string | null;
  readonly device_name?: string | null;
  readonly client_ip?: string | null;
  readonly detail?: Readonly<Record<string, unknown>> | null;
  /** The person who acted (dashboard, API, browser login); null for the CLI and server commands. */
  readonly actor_user_id?: string | null;
}

export interface AuditEvent {
  readonly id: number;
  readonly at: string;
  readonly event: string;
  readonly key_id: string | null;
  readonly fingerprint: string | null;
  readonly device_name: string | null;
  readonly client_ip: string | null;
  readonly detail: Record<string, unknown> | null;
  readonly actor_user_id: string | null;
}

type AuditRow = Omit<AuditEvent, 'detail'> & { detail: string | null };

const AUDIT_COLUMNS = 'id, at, event, key_id, fingerprint, device_name, client_ip, detail, actor_user_id';

/** Which events: one key's, and those at or after `since` and before `until` (ISO 8601, UTC). */
export interface AuditFilter {
  readonly keyId?: string;
  readonly since?: string;
  readonly until?: string;
}

export function auditQueries(sql: Sql) {
  const page = async (filter: AuditFilter, after: number, limit: number | undefined) => {
    const where = ['id > ?'];
    const params: (string | number)[] = [after];
    const add = (condition: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(condition);
      params.push(value);
    };
    add('key_id = ?', filter.keyId);
    add('at >= ?', filter.since);
    add('at < ?', filter.until);
    if (limit !== undefined) params.push(limit);
    const rows = await sql.all<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')} ORDER BY id${limit === undefined ? '' : ' LIMIT ?'}`,
      params,
    );
    return rows.map((row) => ({ ...row, detail: row.detail === null ? null : JSON.parse(row.detail) }));
  };

  return {
    async record(event: AuditInput): Promise<void> {
      await sql.run(
        `INSERT INTO audit_events (at, event, key_id, fingerprint, device_name, client_ip, detail, actor_user_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          event.at,
          event.event,
          event.key_id ?? null,
          event.fingerprint ?? null,
          event.device_name ?? null,
          event.client_ip ?? null,
          event.detail ? JSON.stringify(event.detail) : null,
          event.actor_user_id ?? null,
        ],
      );
    },

    /** Oldest first; ids increase with insertion, unlike timestamps from several processes. */
    list(keyId?: string): Promise<AuditEvent[]> {
      return page(keyId === undefined ? {} : { keyId }, 0, undefined);
    },

    /** The next `limit` events after id `after`, oldest first: an export never holds them all. */
    page(filter: AuditFilter, after: number, limit: number): Promise<AuditEvent[]> {
      return page(filter, after, limit);
    },
  };
}

export type AuditQueries = ReturnType<typeof auditQueries>;
