// The store's one error class: what went wrong with the database, in words the layers above can map.

export type StoreErrorKind =
  /** The database cannot be reached or is busy beyond its timeout: retry later (HTTP 503). */
  | 'unavailable'
  /** A uniqueness rule refused the write (an email already taken, a second active binding). */
  | 'conflict'
  /** The database is on a schema this program cannot use (newer, or not ours). */
  | 'schema'
  /** The --db value cannot be used at all (bad URL, no such file, wrong password). */
  | 'open';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
