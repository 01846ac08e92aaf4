// Raw SQL on a test database, either engine, beside the store under test (its own connection).
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { isPostgresUrl } from '../../packages/server/src/store/open.js';
import { numbered } from '../../packages/server/src/store/postgres/pg-store.js';
import type { Sql, SqlValue } from '../../packages/server/src/store/sql.js';

export interface RawSql extends Sql {
  /** Statements without parameters, several at once (DDL in tests). */
  exec(text: string): Promise<void>;
  close(): Promise<void>;
}

export function rawSql(target: string): RawSql {
  if (isPostgresUrl(target)) {
    const connection = postgres(target, { max: 1, onnotice: () => {} });
    const query = <T>(text: string, params: readonly SqlValue[]) =>
      connection.unsafe(numbered(text), params as postgres.ParameterOrJSON<never>[]) as unknown as Promise<
        T[] & { count: number }
      >;
    return {
      all: async <T>(text: string, params: readonly SqlValue[] = []) => [...(await query<T>(text, params))],
      get: async <T>(text: string, params: readonly SqlValue[] = []) => (await query<T>(text, params))[0],
      run: async (text, params = []) => (await query(text, params)).count,
      exec: async (text) => {
        await connection.unsafe(text);
      },
      close: () => connection.end({ timeout: 1 }),
    };
  }
  const db = new Database(target);
  return {
    all: async <T>(text: string, params: readonly SqlValue[] = []) => db.prepare(text).all(...params) as T[],
    get: async <T>(text: string, params: readonly SqlValue[] = []) =>
      db.prepare(text).get(...params) as T | undefined,
    run: async (text, params = []) => db.prepare(text).run(...params).changes,
    exec: async (text) => {
      db.exec(text);
    },
    close: async () => {
      db.close();
    },
  };
}
