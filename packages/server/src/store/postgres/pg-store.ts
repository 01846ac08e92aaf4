// The shared engine: PostgreSQL through the `postgres` driver, several instances on one database.
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { StoreError } from '../errors.js';
import { createKeyCache, type KeyState } from '../key-cache.js';
import { queries } from '../queries/index.js';
import type { Sql, SqlValue, TxSql } from '../sql.js';
import type { ConnectionCounts, Store, TransactionOptions, Tx, Watching } from '../store.js';
import { CacheListener, CHANNEL, LEASE_MS } from './listener.js';
import { MIGRATIONS } from './migrations.js';
import { openFailure, storeFailure } from './pg-errors.js';
import { type PgSettings, pgSettings } from './url-settings.js';

type PgOptions = postgres.Options<Record<string, postgres.PostgresType>>;

/** Any constant: the migrations of every process that opens the database take turns on it. */
const MIGRATION_LOCK = 7_355_608;
const CONNECT_TIMEOUT_S = 5;

/** The URL for messages: never the password. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return 'the postgres:// URL given';
  }
}

const placeholders = new Map<string, string>();

/** `?` → `$1`, `$2`…: the statements are written once for both engines and never quote a `?`. */
export function numbered(text: string): string {
  let converted = placeholders.get(text);
  if (converted === undefined) {
    let n = 0;
    converted = text.replace(/\?/g, () => `$${++n}`);
    placeholders.set(text, converted);
  }
  return converted;
}

/** Work under way on a pool: statements outside transactions and whole transactions. */
interface Busy {
  count: number;
}

function executor(connection: postgres.Sql | postgres.TransactionSql, busy?: Busy): Sql {
  const query = async <T>(text: string, params: readonly SqlValue[]) => {
    if (busy !== undefined) busy.count++;
    try {
      return (await connection.unsafe(numbered(text), params as postgres.ParameterOrJSON<never>[], {
        prepare: true,
      })) as unknown as T[] & { count: number };
    } catch (error) {
      throw storeFailure(error);
    } finally {
      if (busy !== undefined) busy.count--;
    }
  };
  return {
    all: async <T>(text: string, params: readonly SqlValue[] = []) => [...(await query<T>(text, params))],
    get: async <T>(text: string, params: readonly SqlValue[] = []) => (await query<T>(text, params))[0],
    run: async (text, params = []) => (await query(text, params)).count,
  };
}

function driverOptions(settings: PgSettings): PgOptions {
  return {
    max: settings.poolMax,
    ssl: settings.tls,
    connect_timeout: CONNECT_TIMEOUT_S,
    idle_timeout: 60,
    onnotice: () => {},
    connection: {
      application_name: 'sekuire-server',
      ...(settings.statementTimeout === undefined ? {} : { statement_timeout: settings.statementTimeout }),
    },
    // bigint (audit ids, counts) as numbers: they stay far below 2^53.
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        parse: (value: string) => Number(value),
      },
    },
  } as PgOptions;
}

async function migrate(connection: postgres.Sql, where: string): Promise<void> {
  await connection.begin(async (tx) => {
    await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.unsafe(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at text NOT NULL)',
    );
    const [row] = await tx.unsafe('SELECT coalesce(max(version), 0) AS version FROM schema_migrations');
    const version = Number(row?.version ?? 0);
    if (version > MIGRATIONS.length) {
      throw new StoreError(
        'schema',
        `The database ${where} has schema version ${version}, newer than this sekuire-server knows (${MIGRATIONS.length}). Upgrade sekuire-server.`,
      );
    }
    // DDL is transactional in PostgreSQL: every pending migration applies, or none.
    for (let next = version; next < MIGRATIONS.length; next++) {
      await tx.unsafe(MIGRATIONS[next] ?? '');
      await tx.unsafe('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
        next + 1,
        new Date().toISOString(),
      ]);
    }
  });
}

/** Connects, checks and migrates the schema; throws StoreError('open' | 'schema') with a fix. */
export async function openPostgresStore(url: string): Promise<Store> {
  const where = describeUrl(url);
  const outcome = pgSettings(url);
  if (!outcome.ok) throw new StoreError('open', outcome.problem);
  const settings = outcome.settings;
  let connection: postgres.Sql;
  try {
    connection = postgres(settings.url, driverOptions(settings));
  } catch (error) {
    throw new StoreError('open', `The PostgreSQL URL is not usable: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    await migrate(connection, where);
  } catch (error) {
    await connection.end({ timeout: 0 }).catch(() => {});
    if (error instanceof StoreError) throw error;
    throw openFailure(where, error);
  }
  return new PostgresStore(connection, settings, where);
}

class PostgresStore implements Store {
  readonly engine = 'postgres' as const;
  readonly read;
  private readonly base: Sql;
  private readonly cache;
  private listener: CacheListener | undefined;
  private readonly busy: Busy = { count: 0 };

  constructor(
    private readonly connection: postgres.Sql,
    private readonly settings: PgSettings,
    readonly where: string,
  ) {
    this.base = executor(connection, this.busy);
    this.read = queries(this.base);
    this.cache = createKeyCache(
      async (digest): Promise<KeyState | undefined> => {
        const record = await this.read.keys.byDigest(digest);
        return record === undefined
          ? undefined
          : { record, device: await this.read.devices.active(record.key.id) };
      },
      // Commands never cache; a server caches only while its listener holds a lease.
      () => this.listener?.usable() === true,
    );
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    let epoch: string | undefined;
    let result: T;
    this.busy.count++;
    try {
      result = (await this.connection.begin(async (connection) => {
        const inside = executor(connection);
        const lock: TxSql['lock'] = async (table, id) =>
          (await inside.get(`SELECT 1 AS found FROM ${table} WHERE id = ? FOR UPDATE`, [id])) !== undefined;
        const value = await fn({ ...queries(inside), lock });
        if (options.invalidates) {
          const row = await inside.get<{ epoch: number }>("SELECT nextval('sekuire_cache_epoch') AS epoch");
          epoch = String(row?.epoch);
          await inside.run(`SELECT pg_notify('${CHANNEL}', ?)`, [epoch]);
        }
        return value;
      })) as T;
    } catch (error) {
      throw storeFailure(error);
    } finally {
      this.busy.count--;
    }
    if (epoch !== undefined) {
      const committed = performance.now();
      this.cache.clear();
      await this.awaitAcknowledgements(epoch, options);
      options.onConfirmed?.((performance.now() - committed) / 1000);
    }
    return result;
  }

  /**
   * Waits until every other instance holding a lease has acknowledged the epoch (see
   * listener.ts), or until the leases of the silent ones have run out.
   */
  private async awaitAcknowledgements(epoch: string, options: TransactionOptions): Promise<void> {
    const deadline = performance.now() + LEASE_MS + 1_000;
    let delay = 2;
    let waiting: { id: string; pid: number; host: string }[] = [];
    try {
      for (;;) {
        waiting = await this.base.all<{ id: string; pid: number; host: string }>(
          `SELECT i.id, i.pid, i.host FROM sekuire_instances i
           WHERE i.lease_until > now() AND i.id <> ?
             AND NOT EXISTS (SELECT 1 FROM sekuire_cache_acks a WHERE a.epoch = ? AND a.instance_id = i.id)`,
          [this.listener?.id ?? '', epoch],
        );
        if (waiting.length === 0 || performance.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 50);
      }
      await this.base.all('DELETE FROM sekuire_cache_acks WHERE epoch = ?', [epoch]);
    } catch {
      options.onUnconfirmed?.(['(the database could not be asked after the change committed)']);
      return;
    }
    if (waiting.length > 0) options.onUnconfirmed?.(waiting.map((row) => `pid ${row.pid} on ${row.host}`));
  }

  keyState(digest: Buffer): Promise<KeyState | undefined> {
    return this.cache.lookup(digest);
  }

  updateCached(digest: Buffer, change: (state: KeyState) => KeyState): void {
    this.cache.update(digest, change);
  }

  async watch(): Promise<Watching> {
    const listener = new CacheListener(this.settings.url, driverOptions(this.settings), () =>
      this.cache.clear(),
    );
    this.listener = listener;
    await listener.start();
    return { mode: 'listen' };
  }

  async ping(): Promise<void> {
    await this.base.get('SELECT 1 AS one');
  }

  listening(): boolean {
    return this.listener?.usable() === true;
  }

  connections(): ConnectionCounts {
    const max = this.settings.poolMax;
    return { max, inUse: Math.min(this.busy.count, max) };
  }

  async close(): Promise<void> {
    await this.listener?.close();
    await this.connection.end({ timeout: 2 });
  }
}
