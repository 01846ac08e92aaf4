// Runs a suite once per storage engine; PostgreSQL is skipped only when the run says so, visibly.
import { describe, inject } from 'vitest';
import { openStore } from '../../packages/server/src/store/open.js';
import type { Engine } from '../../packages/server/src/store/store.js';
import { createDatabase, dropDatabase, renameDatabase, UNDEFINED_DATABASE } from './postgres.js';

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

/** The run's PostgreSQL database on the current schema, which every test database copies. */
const MIGRATED_TEMPLATE = 'sekuire_migrated';

/**
 * A copy of MIGRATED_TEMPLATE, made the first time anyone asks: migrating a new database costs
 * more than copying one, and the harness makes one per test. (Migrations from an empty
 * database are tested where that is the subject: open-failures, instances, postgres-restart.)
 */
async function migratedDatabase(adminUrl: string): Promise<string> {
  try {
    return await createDatabase(adminUrl, { template: MIGRATED_TEMPLATE });
  } catch (error) {
    if ((error as { code?: string }).code !== UNDEFINED_DATABASE) throw error;
  }
  const fresh = await createDatabase(adminUrl);
  const store = await openStore(fresh);
  await store.close();
  // Two workers may race here: the loser's copy is dropped and the winner's template used.
  if (!(await renameDatabase(adminUrl, fresh, MIGRATED_TEMPLATE))) await dropDatabase(adminUrl, fresh);
  return createDatabase(adminUrl, { template: MIGRATED_TEMPLATE });
}

/**
 * A new database on the current schema, nothing in it: a file in `dir` for SQLite (migrated
 * when first opened), a copy of a migrated database in the run's cluster for PostgreSQL; or,
 * given `ctype`, a fresh PostgreSQL database with that LC_CTYPE (migrated when first opened).
 */
export async function testDatabase(engine: Engine, dir: string, ctype?: string): Promise<TestDatabase> {
  if (engine === 'sqlite') return { target: `${dir}/sekuire.db`, drop: async () => {} };
  const cluster = inject('postgres');
  if (cluster === null) throw new Error('PostgreSQL tests are skipped in this run');
  const target =
    ctype === undefined
      ? await migratedDatabase(cluster.adminUrl)
      : await createDatabase(cluster.adminUrl, { template: 'template0', ctype });
  return { target, drop: () => dropDatabase(cluster.adminUrl, target) };
}

/** A describe that needs the run's PostgreSQL cluster; skipped (and reported as such) without it. */
export function describeOnPostgres(name: string, suite: () => void): void {
  describe.skipIf(inject('postgres') === null)(name, suite);
}
