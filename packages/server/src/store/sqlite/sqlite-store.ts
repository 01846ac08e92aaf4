// The embedded engine: one better-sqlite3 connection (WAL), with writes pushed to running servers.
import { accessSync, closeSync, constants, openSync, type Stats, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { createKeyCache, type KeyState } from '../key-cache.js';
import { queries } from '../queries/index.js';
import type { SqlValue, TxSql } from '../sql.js';
import type { ConnectionCounts, Store, TransactionOptions, Tx, Watching } from '../store.js';
import { MIGRATIONS } from './migrations.js';
import { listenForPushes, type PushListener, pushInvalidation } from './push.js';

export interface SqliteOptions {
  /** Commands that read or change an existing database must not conjure an empty one from a typo. */
  readonly mustExist?: boolean;
}

/** How long a writer waits for each running server to confirm it forgot its cache. */
const PUSH_TIMEOUT_MS = 2_000;
/** Edits made outside sekuire (the sqlite3 shell) reach a running server within this. */
const POLL_INTERVAL_MS = 1_000;

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string } | undefined)?.code;
}

function describeOpenFailure(path: string, error: unknown, mustExist: boolean): StoreError {
  const code = codeOf(error);
  if (code === 'ENOENT' && !mustExist)
    return new StoreError(
      'open',
      `Cannot create the database ${path}: its directory does not exist. Check --db.`,
    );
  if (code === 'ENOENT' || code === 'SQLITE_CANTOPEN')
    return new StoreError('open', `No database at ${path}. Check --db; start and create-key create one.`);
  if (code === 'EACCES' || code === 'EPERM')
    return new StoreError('open', `Permission denied opening the database ${path}.`);
  if (code === 'EISDIR') return new StoreError('open', `${path} is a directory, not a database. Check --db.`);
  if (code === 'SQLITE_NOTADB')
    return new StoreError('open', `${path} is not a SQLite database. Check --db.`);
  if (code?.startsWith('SQLITE_READONLY')) return readOnly(path);
  return new StoreError('open', `Cannot open the database ${path}: ${(error as Error).message}`);
}

/**
 * SQLite writes beside the database (its -wal and -shm files): a read-only directory fails
 * even when the file itself may be written. Says which of the two it is, and the one fix.
 */
function readOnly(path: string): StoreError {
  const dir = dirname(resolve(path));
  let dirWritable = true;
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    dirWritable = false;
  }
  if (!dirWritable) {
    return new StoreError(
      'open',
      `Cannot open the database ${path}: its directory ${dir} is read-only for this user, and SQLite writes its journal (${basename(path)}-wal) beside the database. Move the database and its .secret file to a directory this user can write, and point --db there.`,
    );
  }
  return new StoreError(
    'open',
    `Cannot open the database ${path}: the file is read-only for this user. Make it writable (chmod u+w ${path}) by the user that runs sekuire-server.`,
  );
}

/** Failures while the database is open, in the store's words. */
function storeFailure(error: unknown): unknown {
  const code = codeOf(error) ?? '';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError('unavailable', 'The database is busy (locked by another process for too long).', {
      cause: error,
    });
  }
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new StoreError('conflict', (error as Error).message, { cause: error });
  }
  if (
    code === 'SQLITE_FULL' ||
    code === 'SQLITE_IOERR' ||
    code.startsWith('SQLITE_IOERR_') ||
    code === 'SQLITE_READONLY'
  ) {
    return new StoreError('unavailable', `The database cannot be written: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return error;
}

/** Applies the missing migrations in one IMMEDIATE transaction: all of them, or none. */
function migrate(db: Database.Database, path: string): void {
  const apply = db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new StoreError(
        'schema',
        `The database ${path} has schema version ${version}, newer than this sekuire-server knows (${MIGRATIONS.length}). Upgrade sekuire-server.`,
      );
    }
    for (let next = version; next < MIGRATIONS.length; next++) {
      db.exec(MIGRATIONS[next] ?? '');
      db.pragma(`user_version = ${next + 1}`);
    }
  });
  // IMMEDIATE takes the write lock before reading user_version, so a second process waits and
  // then sees the schema already in place.
  apply.immediate();
}

export function openSqliteStore(path: string, options: SqliteOptions = {}): Store {
  const mustExist = options.mustExist === true;
  let db: Database.Database;
  try {
    // SQLite gives the -wal and -shm files the mode of the database file, so creating it 0600
    // first keeps emails and digests private to the server's user.
    if (!mustExist) closeSync(openSync(path, 'a', 0o600));
    db = new Database(path, { fileMustExist: mustExist });
  } catch (error) {
    throw describeOpenFailure(path, error, mustExist);
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, path);
  } catch (error) {
    db.close();
    if (error instanceof StoreError) throw error;
    throw describeOpenFailure(path, error, mustExist);
  }
  return new SqliteStore(db, path, statSync(path));
}

class SqliteStore implements Store {
  readonly engine = 'sqlite' as const;
  readonly read;
  private readonly statements = new Map<string, Database.Statement>();
  /** Transactions queued or running; while there are any, other statements queue behind them. */
  private pending = 0;
  private tail: Promise<void> = Promise.resolve();
  private readonly cache;
  private readonly dataVersion: Database.Statement<[], number>;
  private seenVersion: number;
  /** No socket: look at data_version before every cached answer. */
  private checkEveryRequest = false;
  private push: PushListener | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database.Database,
    readonly where: string,
    /** The file as opened: a file removed or replaced at that path is not this database any more. */
    private readonly opened: Stats,
  ) {
    const outside = {
      all: <T>(text: string, params: readonly SqlValue[] = []) =>
        this.alone(() => this.statement(text).all(...params) as T[]),
      get: <T>(text: string, params: readonly SqlValue[] = []) =>
        this.alone(() => this.statement(text).get(...params) as T | undefined),
      run: (text: string, params: readonly SqlValue[] = []) =>
        this.alone(() => this.statement(text).run(...params).changes),
    };
    this.read = queries(outside);
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.seenVersion = this.dataVersion.get() as number;
    this.cache = createKeyCache(async (digest): Promise<KeyState | undefined> => {
      const record = await this.read.keys.byDigest(digest);
      return record === undefined
        ? undefined
        : { record, device: await this.read.devices.active(record.key.id) };
    });
  }

  private statement(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (statement === undefined) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  private execute<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw storeFailure(error);
    }
  }

  /**
   * One connection serves every request, and a transaction's body awaits between statements:
   * transactions take turns, and a statement outside them waits until none is open (it runs at
   * once when none is queued, the common case; being synchronous, it cannot interleave).
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const previous = this.tail;
    let release = () => {};
    this.tail = new Promise((resolve) => {
      release = resolve;
    });
    return previous.then(fn).finally(() => {
      this.pending--;
      release();
    });
  }

  private alone<T>(fn: () => T): Promise<T> {
    if (this.pending > 0) return this.exclusive(async () => this.execute(fn));
    try {
      return Promise.resolve(this.execute(fn));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private noteOutsideChanges(): void {
    const version = this.dataVersion.get() as number;
    if (version !== this.seenVersion) {
      this.seenVersion = version;
      this.cache.clear();
    }
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const result = await this.exclusive(() => this.runTransaction(fn));
    if (options.invalidates) {
      const committed = performance.now();
      this.cache.clear();
      const report = await pushInvalidation(this.where, PUSH_TIMEOUT_MS, this.push?.path);
      options.onConfirmed?.((performance.now() - committed) / 1000);
      if (report.unconfirmed.length > 0) options.onUnconfirmed?.(report.unconfirmed);
    }
    return result;
  }

  private async runTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const inside = {
      all: async <T>(text: string, params: readonly SqlValue[] = []) =>
        this.execute(() => this.statement(text).all(...params) as T[]),
      get: async <T>(text: string, params: readonly SqlValue[] = []) =>
        this.execute(() => this.statement(text).get(...params) as T | undefined),
      run: async (text: string, params: readonly SqlValue[] = []) =>
        this.execute(() => this.statement(text).run(...params).changes),
    };
    const lock: TxSql['lock'] = async (table, id) =>
      (await inside.get(`SELECT 1 AS found FROM ${table} WHERE id = ?`, [id])) !== undefined;
    this.execute(() => this.db.exec('BEGIN IMMEDIATE'));
    try {
      const result = await fn({ ...queries(inside), lock });
      this.execute(() => this.db.exec('COMMIT'));
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  keyState(digest: Buffer): Promise<KeyState | undefined> {
    if (this.checkEveryRequest) this.noteOutsideChanges();
    return this.cache.lookup(digest);
  }

  updateCached(digest: Buffer, change: (state: KeyState) => KeyState): void {
    this.cache.update(digest, change);
  }

  async watch(): Promise<Watching> {
    this.push = await listenForPushes(this.where, () => this.cache.clear());
    // Edits from outside sekuire (the sqlite3 shell, a restored backup) move data_version too.
    this.poll = setInterval(() => this.noteOutsideChanges(), POLL_INTERVAL_MS);
    this.poll.unref();
    if (this.push !== undefined) return { mode: 'push' };
    this.checkEveryRequest = true;
    return {
      mode: 'poll-every-request',
      note: `Note: no socket could be made beside ${this.where}, so the database is checked for changes on every request (slower).`,
    };
  }

  async ping(): Promise<void> {
    let now: Stats;
    try {
      now = statSync(this.where);
    } catch (error) {
      throw new StoreError('unavailable', `The database file ${this.where} is gone.`, { cause: error });
    }
    // The open connection would go on writing to a removed file, which nothing else can see.
    if (now.ino !== this.opened.ino || now.dev !== this.opened.dev) {
      throw new StoreError('unavailable', `The database file ${this.where} was replaced.`);
    }
    await this.alone(() => this.statement('SELECT 1').get());
  }

  listening(): boolean {
    return this.push !== undefined;
  }

  connections(): ConnectionCounts {
    return { max: 1, inUse: this.pending > 0 ? 1 : 0 };
  }

  async close(): Promise<void> {
    clearInterval(this.poll);
    await this.push?.close();
    await this.exclusive(async () => this.db.close());
  }
}
