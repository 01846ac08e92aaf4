// Device bindings; a partial unique index allows one active binding per key.
import type { Sql } from '../sql.js';

export interface DeviceFacts {
  readonly fingerprint: string;
  readonly name: string;
  readonly os: string;
  readonly os_version: string;
  readonly arch: string;
}

export interface DeviceRow extends DeviceFacts {
  readonly id: string;
  readonly key_id: string;
  readonly bound_at: string;
  readonly last_seen_at: string;
  /** The client address the device last called from. */
  readonly last_ip: string | null;
  /** The device key's public half (a JWK, as JSON); null for a binding made before device proof. */
  readonly public_key: string | null;
  /** Its RFC 7638 thumbprint: the keyid every proof of this device names. */
  readonly key_thumbprint: string | null;
}

/** An active binding as the dashboard lists it, with its key. */
export interface VisibleDevice extends DeviceRow {
  readonly key_name: string;
  readonly key_masked: string;
}

const DEVICE_COLUMNS =
  'id, key_id, fingerprint, name, os, os_version, arch, bound_at, last_seen_at, last_ip, public_key, key_thumbprint';

export function deviceQueries(sql: Sql) {
  return {
    // `unbound_at IS NULL` in the WHERE clause lets both engines use the partial index.
    active(keyId: string): Promise<DeviceRow | undefined> {
      return sql.get<DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE key_id = ? AND unbound_at IS NULL`,
        [keyId],
      );
    },

    async insert(device: DeviceRow): Promise<void> {
      await sql.run(`INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
        device.id,
        device.key_id,
        device.fingerprint,
        device.name,
        device.os,
        device.os_version,
        device.arch,
        device.bound_at,
        device.last_seen_at,
        device.last_ip,
        device.public_key,
        device.key_thumbprint,
      ]);
    },

    /** A binding made before device proof gets its device key at that device's next login. */
    async setDeviceKey(id: string, publicKey: string, thumbprint: string): Promise<void> {
      await sql.run('UPDATE devices SET public_key = ?, key_thumbprint = ? WHERE id = ?', [
        publicKey,
        thumbprint,
        id,
      ]);
    },

    /** The same machine logging in again: its name or OS version may have changed. */
    async refresh(id: string, facts: DeviceFacts, at: string, ip: string): Promise<void> {
      await sql.run(
        'UPDATE devices SET name = ?, os = ?, os_version = ?, arch = ?, last_seen_at = ?, last_ip = ? WHERE id = ?',
        [facts.name, facts.os, facts.os_version, facts.arch, at, ip, id],
      );
    },

    async touch(id: string, at: string, ip: string): Promise<void> {
      await sql.run('UPDATE devices SET last_seen_at = ?, last_ip = ? WHERE id = ?', [at, ip, id]);
    },

    /** Active bindings of the keys a user may see (the same rule as keys.visibleTo), newest first. */
    visibleTo(userId: string): Promise<VisibleDevice[]> {
      return sql.all<VisibleDevice>(
        `SELECT d.id, d.key_id, d.fingerprint, d.name, d.os, d.os_version, d.arch, d.bound_at, d.last_seen_at,
                d.last_ip, d.public_key, d.key_thumbprint, k.name AS key_name, k.masked AS key_masked
         FROM devices d
         JOIN api_keys k ON k.id = d.key_id
         JOIN workspaces w ON w.id = k.workspace_id
         JOIN memberships m ON m.org_id = w.org_id AND m.user_id = ?
         WHERE d.unbound_at IS NULL AND (k.user_id = m.user_id OR m.role IN ('owner', 'admin'))
         ORDER BY d.bound_at DESC, d.id`,
        [userId],
      );
    },

    byId(id: string): Promise<DeviceRow | undefined> {
      return sql.get<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ? AND unbound_at IS NULL`, [
        id,
      ]);
    },

    /** Devices seen after `at` (the benchmark counts the writes a load caused). */
    async touchedSince(at: string): Promise<number> {
      const row = await sql.get<{ n: number }>('SELECT count(*) AS n FROM devices WHERE last_seen_at > ?', [
        at,
      ]);
      return Number(row?.n ?? 0);
    },

    async unbind(id: string, at: string): Promise<boolean> {
      return (
        (await sql.run('UPDATE devices SET unbound_at = ? WHERE id = ? AND unbound_at IS NULL', [at, id])) ===
        1
      );
    },
  };
}

export type DeviceQueries = ReturnType<typeof deviceQueries>;
