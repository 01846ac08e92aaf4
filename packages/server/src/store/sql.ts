// The one SQL surface both engines offer: plain statements with `?` placeholders, run asynchronously.

/** What a statement's parameters may be; both engines map these the same way. */
export type SqlValue = string | number | Buffer | null;

/**
 * Statements are written once, in the subset of SQL that SQLite and PostgreSQL share, with `?`
 * placeholders (the PostgreSQL executor numbers them). Timestamps are ISO-8601 UTC text on both
 * engines, so they sort and compare the same way; there are no booleans (nullable timestamps
 * say when something happened instead).
 */
export interface Sql {
  all<T>(text: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(text: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(text: string, params?: readonly SqlValue[]): Promise<number>;
}

/** Tables whose rows a transaction may lock (see TxSql.lock). */
export type LockableTable = 'api_keys' | 'users' | 'cli_grants' | 'device_moves';

/** The executor inside a transaction. */
export interface TxSql extends Sql {
  /**
   * Locks one row until the transaction ends, so two transactions deciding on the same key (two
   * logins racing to bind it) run one after the other: PostgreSQL's SELECT … FOR UPDATE. On
   * SQLite every write transaction already holds the database's write lock. Resolves false
   * when the row does not exist.
   */
  lock(table: LockableTable, id: string): Promise<boolean>;
}
