// Everything the server reads and writes, bound to one database handle.
import { type AccountQueries, accountQueries } from './accounts.js';
import { type AuditQueries, auditQueries } from './audit.js';
import type { Db } from './db.js';
import { type DeviceQueries, deviceQueries } from './devices.js';

export interface Store {
  readonly db: Db;
  readonly accounts: AccountQueries;
  readonly devices: DeviceQueries;
  readonly audit: AuditQueries;
  /** Runs fn under the write lock (BEGIN IMMEDIATE): no other writer can interleave. */
  inTransaction<T>(fn: () => T): T;
}

export function createStore(db: Db): Store {
  return {
    db,
    accounts: accountQueries(db),
    devices: deviceQueries(db),
    audit: auditQueries(db),
    inTransaction: (fn) => db.transaction(fn).immediate(),
  };
}
