// Queries on device bindings; the partial unique index allows one active binding per key.
import type { Db } from './db.js';

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

export function deviceQueries(db: Db) {
  // `unbound_at IS NULL` in the WHERE clause lets SQLite use the partial index.
  const active = db.prepare<[string], DeviceRow>(
    `SELECT ${DEVICE_COLUMNS} FROM devices WHERE key_id = ? AND unbound_at IS NULL`,
  );
  const insert = db.prepare<[DeviceRow]>(
    `INSERT INTO devices (id, key_id, fingerprint, name, os, os_version, arch, bound_at, last_seen_at)
     VALUES (@id, @key_id, @fingerprint, @name, @os, @os_version, @arch, @bound_at, @last_seen_at)`,
  );
  const refresh = db.prepare<[DeviceFacts & { id: string; at: string }]>(
    `UPDATE devices SET name = @name, os = @os, os_version = @os_version, arch = @arch, last_seen_at = @at
     WHERE id = @id`,
  );
  const touch = db.prepare<[string, string]>('UPDATE devices SET last_seen_at = ? WHERE id = ?');
  const unbind = db.prepare<[string, string]>(
    'UPDATE devices SET unbound_at = ? WHERE id = ? AND unbound_at IS NULL',
  );

  return {
    active(keyId: string): DeviceRow | undefined {
      return active.get(keyId);
    },
    insert(device: DeviceRow): void {
      insert.run(device);
    },
    /** The same machine logging in again: its name or OS version may have changed. */
    refresh(id: string, facts: DeviceFacts, at: string): void {
      refresh.run({ ...facts, id, at });
    },
    touch(id: string, at: string): void {
      touch.run(at, id);
    },
    unbind(id: string, at: string): boolean {
      return unbind.run(at, id).changes === 1;
    },
  };
}

export type DeviceQueries = ReturnType<typeof deviceQueries>;
