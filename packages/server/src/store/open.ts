// Opens the store named by --db: a postgres:// URL, or else a SQLite file path.
import { openPostgresStore } from './postgres/pg-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export interface OpenOptions {
  /** SQLite: refuse a missing file (commands that only read or change an existing database). */
  readonly mustExist?: boolean;
}

export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/** Throws StoreError('open' | 'schema') with a message that names the fix. */
export function openStore(target: string, options: OpenOptions = {}): Promise<Store> {
  if (isPostgresUrl(target)) return openPostgresStore(target);
  return Promise.resolve().then(() => openSqliteStore(target, options));
}
