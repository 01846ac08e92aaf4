// Opens the SQLite database: file mode 0600, WAL, foreign keys, busy timeout, migrations.
import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { CommandError } from './errors.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** revoke-key and audit must not conjure an empty database from a mistyped path. */
  readonly mustExist?: boolean;
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  let db: Db;
  try {
    // SQLite gives the -wal and -shm files the mode of the database file, so creating it
    // 0600 first keeps emails and digests private to the server's user.
    if (!options.mustExist) closeSync(openSync(path, 'a', 0o600));
    db = new Database(path, { fileMustExist: options.mustExist === true });
  } catch (error) {
    throw new CommandError(describeOpenFailure(path, error, options.mustExist === true));
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof CommandError) throw error;
    throw new CommandError(`Cannot use the database ${path}: ${(error as Error).message}`);
  }
}

/** Applies the missing migrations; safe when two processes open a new database at once. */
export function migrate(db: Db): void {
  const apply = db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new CommandError(
        `The database has schema version ${version}, newer than this sekuire-server knows (${MIGRATIONS.length}). Upgrade sekuire-server.`,
      );
    }
    for (let next = version; next < MIGRATIONS.length; next++) {
      db.exec(MIGRATIONS[next] ?? '');
      db.pragma(`user_version = ${next + 1}`);
    }
  });
  // IMMEDIATE takes the write lock before reading user_version, so a second process waits
  // and then sees the schema already in place.
  apply.immediate();
}

function describeOpenFailure(path: string, error: unknown, mustExist: boolean): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' && !mustExist)
    return `Cannot create the database ${path}: its directory does not exist. Check --db.`;
  if (code === 'ENOENT') return `No database at ${path}. Check --db.`;
  if (code === 'SQLITE_CANTOPEN')
    return `No database at ${path}. Check --db; create-key and start create one.`;
  if (code === 'EACCES' || code === 'EPERM') return `Permission denied opening the database ${path}.`;
  if (code === 'SQLITE_NOTADB') return `${path} is not a SQLite database.`;
  return `Cannot open the database ${path}: ${(error as Error).message}`;
}
