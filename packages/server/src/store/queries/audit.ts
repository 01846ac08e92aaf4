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

export function auditQueries(sql: Sql) {
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
    async list(keyId?: string): Promise<AuditEvent[]> {
      const rows =
        keyId === undefined
          ? await sql.all<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_events ORDER BY id`)
          : await sql.all<AuditRow>(
              `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE key_id = ? ORDER BY id`,
              [keyId],
            );
      return rows.map((row) => ({ ...row, detail: row.detail === null ? null : JSON.parse(row.detail) }));
    },
  };
}

export type AuditQueries = ReturnType<typeof auditQueries>;
