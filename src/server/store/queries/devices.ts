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
}

const DEVICE_COLUMNS = 'id, key_id, fingerprint, name, os, os_version, arch, bound_at, last_seen_at';

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
      await sql.run(
        `INSERT INTO devices (id, key_id, fingerprint, name, os, os_version, arch, bound_at, last_seen_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          device.id,
          device.key_id,
          device.fingerprint,
          device.name,
          device.os,
          device.os_version,
          device.arch,
          device.bound_at,
          device.last_seen_at,
        ],
      );
    },

    /** The same machine logging in again: its name or OS version may have changed. */
    async refresh(id: string, facts: DeviceFacts, at: string): Promise<void> {
      await sql.run(
        'UPDATE devices SET name = ?, os = ?, os_version = ?, arch = ?, last_seen_at = ? WHERE id = ?',
        [facts.name, facts.os, facts.os_version, facts.arch, at, id],
      );
    },

    async touch(id: string, at: string): Promise<void> {
      await sql.run('UPDATE devices SET last_seen_at = ? WHERE id = ?', [at, id]);
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
