// Everything the server reads and writes, bound to one database handle.
import { type AccountQueries, accountQueries } from './accounts.js';
import { type AuditQueries, auditQueries } from './audit.js';
import type { Db } from './db.js';
import { type DeviceQueries, deviceQueries } from './devices.js';
import { createKeyCache, type KeyState } from './key-cache.js';

export interface Store {
  readonly db: Db;
  readonly accounts: AccountQueries;
  readonly devices: DeviceQueries;
  readonly audit: AuditQueries;
  /**
   * Runs fn under the write lock (BEGIN IMMEDIATE): no other writer can interleave. Every
   * write that changes keys or bindings goes through here, so the key cache can forget.
   */
  inTransaction<T>(fn: () => T): T;
  /** A key's record and active device, by digest; cached while the database is unchanged. */
  keyState(digest: Buffer): KeyState | undefined;
}

export function createStore(db: Db): Store {
  const accounts = accountQueries(db);
  const devices = deviceQueries(db);
  const cache = createKeyCache(db, (digest): KeyState | undefined => {
    const record = accounts.keyByDigest(digest);
    return record === undefined ? undefined : { record, device: devices.active(record.key.id) };
  });
  return {
    db,
    accounts,
    devices,
    audit: auditQueries(db),
    inTransaction: (fn) => {
      try {
        return db.transaction(fn).immediate();
      } finally {
        cache.forgetAll();
      }
    },
    keyState: (digest) => cache.lookup(digest),
  };
}
