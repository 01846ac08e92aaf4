// Opens the store a command names with --db, and turns the store's failures into the command's.
import { StoreError } from '../store/errors.js';
import { isPostgresUrl, openStore } from '../store/open.js';
import { pgSettings } from '../store/postgres/url-settings.js';
import type { Store } from '../store/store.js';
import type { CommandContext } from './context.js';
import { CommandError, UsageError } from './errors.js';

export const DEFAULT_DB = './sekuire.db';

/** The database: --db, else SEKUIRE_SERVER_DB, else ./sekuire.db; a path or a postgres:// URL. */
export function databaseTarget(flag: string | undefined, env: CommandContext['env']): string {
  const target = flag ?? env.SEKUIRE_SERVER_DB ?? DEFAULT_DB;
  if (target.trim() === '')
    throw new UsageError('The database (--db) must not be empty: give a file path or a postgres:// URL.');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target) && !isPostgresUrl(target)) {
    throw new UsageError(
      `--db takes a SQLite file path or a postgres:// URL, not a ${target.split(':')[0]}:// URL.`,
    );
  }
  if (isPostgresUrl(target)) {
    // A wrong pool_max, statement_timeout, sslmode or sslrootcert is the user's to fix (exit 2).
    const settings = pgSettings(target);
    if (!settings.ok) throw new UsageError(settings.problem);
  }
  return target;
}

function asCommandError(error: unknown): unknown {
  return error instanceof StoreError ? new CommandError(error.message) : error;
}

export interface WithStoreOptions {
  /** SQLite: the file must exist (revoke-key, audit: a typo must not create an empty database). */
  readonly mustExist?: boolean;
}

/** Runs fn with the store open, and closes it however fn ends. */
export async function withStore<T>(
  target: string,
  options: WithStoreOptions,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  let store: Store;
  try {
    store = await openStore(target, options);
  } catch (error) {
    throw asCommandError(error);
  }
  try {
    return await fn(store);
  } catch (error) {
    throw asCommandError(error);
  } finally {
    await store.close();
  }
}

/** Tells the user that some running servers did not confirm a change (they catch up by themselves). */
export function reportUnconfirmed(ctx: CommandContext) {
  return (servers: readonly string[]): void => {
    ctx.stderr.write(
      `Warning: ${servers.length} running server${servers.length === 1 ? '' : 's'} did not confirm the change in time (${servers.join(', ')}); ` +
        'each stops answering from memory within seconds and then sees it.\n',
    );
  };
}
