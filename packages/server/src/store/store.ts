// The one Store interface the domain sees; store/sqlite and store/postgres implement it.
import type { KeyState } from './key-cache.js';
import type { Queries } from './queries/index.js';
import type { TxSql } from './sql.js';

export type Engine = 'sqlite' | 'postgres';

/** The queries, inside a transaction, plus its row lock. */
export interface Tx extends Queries {
  readonly lock: TxSql['lock'];
}

export interface TransactionOptions {
  /**
   * The transaction changes what a key may do (revoke, expiry, binding): once it resolves,
   * every running server has forgotten what it cached (or gave up being asked; see onUnconfirmed).
   */
  readonly invalidates?: boolean;
  /** Servers that did not confirm in time; they catch up by themselves (README, "Two engines"). */
  readonly onUnconfirmed?: (servers: readonly string[]) => void;
  /**
   * With invalidates: the seconds from the commit until every running server confirmed (or the
   * wait for the silent ones ended), for sekuire_revocation_confirm_seconds.
   */
  readonly onConfirmed?: (seconds: number) => void;
}

/** The database connections of this process, for sekuire_db_pool_connections. */
export interface ConnectionCounts {
  /** The pool's size (SQLite: its one connection). */
  readonly max: number;
  /** Transactions and statements under way, at most max (more wait or share a connection). */
  readonly inUse: number;
}

/** How a serving instance learns of changes made elsewhere; `start` prints it. */
export interface Watching {
  readonly mode: 'push' | 'poll-every-request' | 'listen';
  readonly note?: string;
}

export interface Store {
  readonly engine: Engine;
  /** The database for messages: a path, or a URL without its password. */
  readonly where: string;
  /** Queries outside a transaction (each statement on its own). */
  readonly read: Queries;
  /**
   * Runs fn in a transaction: SQLite's write lock (BEGIN IMMEDIATE), or a PostgreSQL
   * transaction whose rows are locked with tx.lock. Commits when fn resolves, rolls back when it
   * throws. Throws StoreError for database failures.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** A key's record and active device by digest; from memory while nothing changed. */
  keyState(digest: Buffer): Promise<KeyState | undefined>;
  /** Applies a change only this instance needs (last used, last seen) to the cached state. */
  updateCached(digest: Buffer, change: (state: KeyState) => KeyState): void;
  /** For `start`: begin hearing about changes other processes make. */
  watch(): Promise<Watching>;
  /**
   * Resolves when the database answers (SQLite: and the file at its path is still the one
   * open); throws StoreError('unavailable') otherwise. For /api/v1/ready.
   */
  ping(): Promise<void>;
  /**
   * Whether changes committed elsewhere reach this instance the moment they commit: PostgreSQL's
   * LISTEN connection is up and its lease held; SQLite's socket is open. False before watch().
   */
  listening(): boolean;
  connections(): ConnectionCounts;
  close(): Promise<void>;
}
