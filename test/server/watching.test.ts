// How a serving instance hears of changes: SQLite's socket (or the per-request fallback), PostgreSQL's LISTEN.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../../packages/server/src/domain/keys.js';
import { openStore } from '../../packages/server/src/store/open.js';
import { socketDirectory } from '../../packages/server/src/store/sqlite/push.js';
import { describeOnPostgres } from '../helpers/engines.js';
import { rawSql } from '../helpers/raw-sql.js';
import { FP_A, type Harness, harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  expect(h?.logged ?? []).toEqual([]);
  await h?.close();
  h = undefined;
});

async function revokeFromAnotherProcess(target: string, id: string, now: Date): Promise<readonly string[]> {
  const store = await openStore(target, { mustExist: true });
  let unconfirmed: readonly string[] = [];
  try {
    await revokeApiKey(store, id, now, (servers) => {
      unconfirmed = servers;
    });
  } finally {
    await store.close();
  }
  return unconfirmed;
}

describe('SQLite', () => {
  it('a serving instance listens on a 0600 socket in a 0700 directory beside the database, removed on close', async () => {
    h = await harness();
    const dir = socketDirectory(h.target);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const sockets = readdirSync(dir);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]).toMatch(new RegExp(`^${process.pid}-[0-9a-f]{6}\\.sock$`));
    const socket = statSync(join(dir, sockets[0] as string));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    await h.store.close();
    expect(readdirSync(dir)).toEqual([]);
    // The harness closes the store again: closing twice is harmless.
  });

  it('where no socket can be made, every request checks the database instead, and still never misses', async () => {
    const deep = join('/tmp', `sekuire-deep-${process.pid}`, 'x'.repeat(60), 'y'.repeat(60));
    mkdirSync(deep, { recursive: true });
    h = await harness({ watch: false });
    // The harness's own database path is short; open one whose socket path would be too long.
    const store = await openStore(join(deep, 'sekuire.db'));
    try {
      const watching = await store.watch();
      expect(watching.mode).toBe('poll-every-request');
      expect(watching.note).toContain('checked for changes on every request');
      const { createApiKey } = await import('../../packages/server/src/domain/keys.js');
      const created = await createApiKey(store, h.secret, { email: 'a@b.c', environment: 'test' }, h.now());
      const { keyDigest } = await import('../../packages/server/src/domain/digest.js');
      const digest = keyDigest(h.secret, created.apiKey.value);
      expect((await store.keyState(digest))?.record.key.revoked_at).toBeNull();
      expect(await revokeFromAnotherProcess(join(deep, 'sekuire.db'), created.key.id, h.now())).toEqual([]);
      expect((await store.keyState(digest))?.record.key.revoked_at).not.toBeNull();
    } finally {
      await store.close();
    }
  });
});

describeOnPostgres('PostgreSQL', () => {
  it('while the LISTEN connection is down, every request reads the database: slower, never wrong', async () => {
    h = await harness({ engine: 'postgres' });
    const { apiKey, key } = await h.createKey();
    const status = () => h?.get('/api/v1/cli/status', apiKey.value, FP_A);
    expect((await status())?.statusCode).toBe(200);
    expect((await status())?.statusCode).toBe(200);
    const admin = rawSql(h.target);
    try {
      const killed = await admin.all<{ pid: number }>(
        "SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sekuire-server listener'",
      );
      expect(killed).toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      // A change that notifies nobody (triggers off): only a read of the database can see it.
      await admin.exec(
        `SET session_replication_role = replica; UPDATE api_keys SET revoked_at = '${h.now().toISOString()}' WHERE id = '${key.id}'`,
      );
    } finally {
      await admin.close();
    }
    const after = await status();
    expect(after?.statusCode).toBe(401);
    expect(after?.json().error).toBe('key_revoked');
  });

  it('a writer waits for the acknowledgement of every serving instance, and none is left waiting', async () => {
    h = await harness({ engine: 'postgres' });
    const { apiKey, key } = await h.createKey();
    expect((await h.get('/api/v1/cli/status', apiKey.value, FP_A)).statusCode).toBe(200);
    expect(await revokeFromAnotherProcess(h.target, key.id, h.now())).toEqual([]);
    expect((await h.get('/api/v1/cli/status', apiKey.value, FP_A)).json().error).toBe('key_revoked');
    // The writer removes the acknowledgements it waited for.
    expect(await h.sql.all('SELECT * FROM sekuire_cache_acks')).toEqual([]);
    expect(await h.sql.all<{ n: number }>('SELECT count(*)::int AS n FROM sekuire_instances')).toEqual([
      { n: 1 },
    ]);
  });
});
