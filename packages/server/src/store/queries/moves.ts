// Moves of a binding to another device: requested by the new device, decided by a person, once.
import type { Sql } from '../sql.js';

export interface MoveRow {
  readonly id: string;
  readonly key_id: string;
  /** What the person types or follows (XXXX-XXXX), unique among all moves ever requested. */
  readonly user_code: string;
  /** The binding when the move was asked for; null when the key was bound to no device then. */
  readonly from_device_id: string | null;
  readonly fingerprint: string;
  readonly device_name: string;
  readonly device_os: string;
  readonly os_version: string;
  readonly arch: string;
  /** The new device's key (JWK, as JSON) and its thumbprint: the binding gets them on approval. */
  readonly public_key: string;
  readonly key_thumbprint: string;
  readonly requested_ip: string | null;
  readonly created_at: string;
  readonly expires_at: string;
  readonly interval_seconds: number;
  readonly last_polled_at: string | null;
  readonly decided_by: string | null;
  readonly approved_at: string | null;
  readonly denied_at: string | null;
  /** The binding the move made (on approval, or when the key was freed meanwhile). */
  readonly device_id: string | null;
}

/**
 * A move as the person who may decide it sees it: the key, the device the key is bound to
 * now (null when none), and the device asking.
 */
export interface VisibleMove extends MoveRow {
  readonly key_name: string;
  readonly key_masked: string;
  readonly bound_id: string | null;
  readonly bound_name: string | null;
  readonly bound_os: string | null;
  readonly bound_os_version: string | null;
  readonly bound_arch: string | null;
  readonly bound_fingerprint: string | null;
  readonly bound_at: string | null;
  readonly bound_last_seen_at: string | null;
  readonly bound_last_ip: string | null;
}

const COLUMNS = `id, key_id, user_code, from_device_id, fingerprint, device_name, device_os, os_version, arch,
  public_key, key_thumbprint, requested_ip, created_at, expires_at, interval_seconds, last_polled_at, decided_by,
  approved_at, denied_at, device_id`;

const VISIBLE = `SELECT m.id, m.key_id, m.user_code, m.from_device_id, m.fingerprint, m.device_name, m.device_os,
    m.os_version, m.arch, m.public_key, m.key_thumbprint, m.requested_ip, m.created_at, m.expires_at,
    m.interval_seconds, m.last_polled_at, m.decided_by, m.approved_at, m.denied_at, m.device_id,
    k.name AS key_name, k.masked AS key_masked, d.id AS bound_id, d.name AS bound_name, d.os AS bound_os,
    d.os_version AS bound_os_version, d.arch AS bound_arch, d.fingerprint AS bound_fingerprint,
    d.bound_at AS bound_at, d.last_seen_at AS bound_last_seen_at, d.last_ip AS bound_last_ip
  FROM device_moves m
  JOIN api_keys k ON k.id = m.key_id
  JOIN workspaces w ON w.id = k.workspace_id
  JOIN memberships ms ON ms.org_id = w.org_id AND ms.user_id = ?
  LEFT JOIN devices d ON d.key_id = m.key_id AND d.unbound_at IS NULL
  WHERE (k.user_id = ms.user_id OR ms.role IN ('owner', 'admin'))`;

export function moveQueries(sql: Sql) {
  return {
    async insert(move: MoveRow): Promise<void> {
      await sql.run(
        `INSERT INTO device_moves (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          move.id,
          move.key_id,
          move.user_code,
          move.from_device_id,
          move.fingerprint,
          move.device_name,
          move.device_os,
          move.os_version,
          move.arch,
          move.public_key,
          move.key_thumbprint,
          move.requested_ip,
          move.created_at,
          move.expires_at,
          move.interval_seconds,
          move.last_polled_at,
          move.decided_by,
          move.approved_at,
          move.denied_at,
          move.device_id,
        ],
      );
    },

    byId(id: string): Promise<MoveRow | undefined> {
      return sql.get<MoveRow>(`SELECT ${COLUMNS} FROM device_moves WHERE id = ?`, [id]);
    },

    byUserCode(userCode: string): Promise<MoveRow | undefined> {
      return sql.get<MoveRow>(`SELECT ${COLUMNS} FROM device_moves WHERE user_code = ?`, [userCode]);
    },

    /** A move by id or by its code, if the user may manage its key (the rule of keys.visibleTo). */
    visible(userId: string, by: { id: string } | { userCode: string }): Promise<VisibleMove | undefined> {
      return 'id' in by
        ? sql.get<VisibleMove>(`${VISIBLE} AND m.id = ?`, [userId, by.id])
        : sql.get<VisibleMove>(`${VISIBLE} AND m.user_code = ?`, [userId, by.userCode]);
    },

    /** Undecided moves of the keys a user may manage that have not expired at `at`, newest first. */
    pendingFor(userId: string, at: string): Promise<VisibleMove[]> {
      return sql.all<VisibleMove>(
        `${VISIBLE} AND m.approved_at IS NULL AND m.denied_at IS NULL AND m.device_id IS NULL AND m.expires_at > ?
         ORDER BY m.created_at DESC, m.id`,
        [userId, at],
      );
    },

    /** Ends the key's undecided moves (a newer request replaces them): they expire at `at`. */
    async supersede(keyId: string, at: string): Promise<number> {
      return sql.run(
        `UPDATE device_moves SET expires_at = ?
         WHERE key_id = ? AND approved_at IS NULL AND denied_at IS NULL AND device_id IS NULL AND expires_at > ?`,
        [at, keyId, at],
      );
    },

    /** Ends the undecided moves the same device asked for earlier: asking again replaces them. */
    async supersedeFrom(keyId: string, fingerprint: string, at: string): Promise<number> {
      return sql.run(
        `UPDATE device_moves SET expires_at = ?
         WHERE key_id = ? AND fingerprint = ? AND approved_at IS NULL AND denied_at IS NULL
           AND device_id IS NULL AND expires_at > ?`,
        [at, keyId, fingerprint, at],
      );
    },

    /** How many other undecided, unexpired moves of the key there are (other devices asking too). */
    async otherPending(keyId: string, moveId: string, at: string): Promise<number> {
      const row = await sql.get<{ n: number | string }>(
        `SELECT count(*) AS n FROM device_moves
         WHERE key_id = ? AND id <> ? AND approved_at IS NULL AND denied_at IS NULL
           AND device_id IS NULL AND expires_at > ?`,
        [keyId, moveId, at],
      );
      return Number(row?.n ?? 0);
    },

    async polled(id: string, at: string, interval: number): Promise<void> {
      await sql.run('UPDATE device_moves SET last_polled_at = ?, interval_seconds = ? WHERE id = ?', [
        at,
        interval,
        id,
      ]);
    },

    /** Records the decision on an undecided move; false when it was decided (or completed) first. */
    async decide(id: string, userId: string | null, at: string, approve: boolean): Promise<boolean> {
      const column = approve ? 'approved_at' : 'denied_at';
      return (
        (await sql.run(
          `UPDATE device_moves SET decided_by = ?, ${column} = ?
           WHERE id = ? AND approved_at IS NULL AND denied_at IS NULL AND device_id IS NULL`,
          [userId, at, id],
        )) === 1
      );
    },

    /** The binding the move made. */
    async completed(id: string, deviceId: string): Promise<void> {
      await sql.run('UPDATE device_moves SET device_id = ? WHERE id = ?', [deviceId, id]);
    },
  };
}

export type MoveQueries = ReturnType<typeof moveQueries>;
