// Runs a suite once per storage engine; PostgreSQL is skipped only when the run says so, visibly.
import { describe, inject } from 'vitest';
import type { Engine } from '../../packages/server/src/store/store.js';
import { createDatabase, dropDatabase } from './postgres.js';

export const ENGINES: readonly Engine[] = ['sqlite', 'postgres'];

/** Registers `suite` under a describe per engine (`describe('on postgres', …)`). */
export function forEachEngine(suite: (engine: Engine) => void): void {
  for (const engine of ENGINES) {
    describe.skipIf(engine === 'postgres' && inject('postgres') === null)(`on ${engine}`, () =>
      suite(engine),
    );
  }
}

export interface TestDatabase {
  /** A SQLite path or a postgres:// URL, as --db takes it. */
  readonly target: string;
  drop(): Promise<void>;
}

/**
 * A new empty database: a file in `dir` for SQLite, a fresh database in the run's cluster for
 * PostgreSQL (with `ctype` as its LC_CTYPE, if given).
 */
export async function testDatabase(engine: Engine, dir: string, ctype?: string): Promise<TestDatabase> {
  if (engine === 'sqlite') return { target: `${dir}/sekuire.db`, drop: async () => {} };
  const cluster = inject('postgres');
  if (cluster === null) throw new Error('PostgreSQL tests are skipped in this run');
  const target = await createDatabase(cluster.adminUrl, ctype);
  return { target, drop: () => dropDatabase(cluster.adminUrl, target) };
}

/** A describe that needs the run's PostgreSQL cluster; skipped (and reported as such) without it. */
export function describeOnPostgres(name: string, suite: () => void): void {
  describe.skipIf(inject('postgres') === null)(name, suite);
}
