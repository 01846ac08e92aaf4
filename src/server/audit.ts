// The audit trail: who bound, moved, unbound or revoked what, from where; append-only.
import type { Db } from './db.js';

export type AuditEventName = 'create' | 'bind' | 'refresh' | 'move' | 'unbind' | 'revoke' | 'rate_limited';

export interface AuditInput {
  readonly at: string;
  readonly event: AuditEventName;
  readonly key_id?: string | null;
  readonly fingerprint?: string | null;
  readonly device_name?: string | null;
  readonly client_ip?: string | null;
  readonly detail?: Readonly<Record<string, unknown>> | null;
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
}

type AuditRow = Omit<AuditEvent, 'detail'> & { detail: string | null };

const AUDIT_COLUMNS = 'id, at, event, key_id, fingerprint, device_name, client_ip, detail';

export function auditQueries(db: Db) {
  const insert = db.prepare<[Omit<AuditRow, 'id'>]>(
    `INSERT INTO audit_events (at, event, key_id, fingerprint, device_name, client_ip, detail)
     VALUES (@at, @event, @key_id, @fingerprint, @device_name, @client_ip, @detail)`,
  );
  const all = db.prepare<[], AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_events ORDER BY id`);
  const forKey = db.prepare<[string], AuditRow>(
    `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE key_id = ? ORDER BY id`,
  );

  return {
    record(event: AuditInput): void {
      insert.run({
        at: event.at,
        event: event.event,
        key_id: event.key_id ?? null,
        fingerprint: event.fingerprint ?? null,
        device_name: event.device_name ?? null,
        client_ip: event.client_ip ?? null,
        detail: event.detail ? JSON.stringify(event.detail) : null,
      });
    },
    /** Oldest first; ids increase with insertion, unlike timestamps from several processes. */
    list(keyId?: string): AuditEvent[] {
      const rows = keyId === undefined ? all.all() : forKey.all(keyId);
      return rows.map((row) => ({ ...row, detail: row.detail === null ? null : JSON.parse(row.detail) }));
    },
  };
}

export type AuditQueries = ReturnType<typeof auditQueries>;
