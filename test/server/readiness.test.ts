// /api/v1/ready: 200 while the database answers (and LISTEN is up on PostgreSQL), 503 once it is gone; /health stays 200.
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../packages/server/src/http/app.js';
import { Metrics } from '../../packages/server/src/http/metrics.js';
import { openStore } from '../../packages/server/src/store/open.js';
import { describeOnPostgres } from '../helpers/engines.js';
import { type Cluster, createDatabase, startCluster, stopCluster } from '../helpers/postgres.js';
import { type Harness, harness } from './harness.js';

describe('ready on SQLite', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('200 while the file is there; 503 once it is removed, while /health stays 200', async () => {
    h = await harness();
    const ready = await h.inject({ method: 'GET', url: '/api/v1/ready' });
    expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ready' }]);
    rmSync(h.target);
    const gone = await h.inject({ method: 'GET', url: '/api/v1/ready' });
    expect(gone.statusCode).toBe(503);
    expect(gone.headers['retry-after']).toBe('1');
    expect(gone.json()).toEqual({
      error: 'service_unavailable',
      message: `The database does not answer: The database file ${h.target} is gone.`,
    });
    expect((await h.inject({ method: 'GET', url: '/api/v1/health' })).statusCode).toBe(200);
  });

  it('503 when another file took its place (a restored backup the server never opened)', async () => {
    h = await harness();
    writeFileSync(`${h.target}.other`, 'not this database');
    renameSync(`${h.target}.other`, h.target);
    const replaced = await h.inject({ method: 'GET', url: '/api/v1/ready' });
    expect([replaced.statusCode, replaced.json().message]).toEqual([
      503,
      `The database does not answer: The database file ${h.target} was replaced.`,
    ]);
  });
});

describeOnPostgres('ready on PostgreSQL', () => {
  // A cluster of its own: the run's shared one must not go away under other test files.
  let cluster: Cluster | undefined;
  afterEach(async () => {
    if (cluster !== undefined) await stopCluster(cluster).catch(() => undefined);
    cluster = undefined;
  });

  it('200 with the database and LISTEN up; 503 once PostgreSQL stops, and sekuire_listen_up turns 0', async () => {
    if (inject('postgres') === null) return;
    cluster = await startCluster();
    const store = await openStore(await createDatabase(cluster.adminUrl));
    await store.watch();
    const app = await buildApp({
      store,
      secret: randomBytes(32),
      metrics: new Metrics(store),
      serveMetrics: true,
      logError: (message) => {
        throw new Error(`unexpected error logged: ${message}`);
      },
    });
    try {
      const ready = await app.inject({ method: 'GET', url: '/api/v1/ready' });
      expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ready' }]);
      expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toContain(
        '\nsekuire_listen_up 1\n',
      );

      await stopCluster(cluster);
      cluster = undefined;
      const down = await app.inject({ method: 'GET', url: '/api/v1/ready' });
      expect(down.statusCode).toBe(503);
      expect(down.json()).toEqual({
        error: 'service_unavailable',
        message: expect.stringMatching(/^The database does not answer: PostgreSQL is unavailable \(\w+\)\.$/),
      });
      // The listener lost its connection when the database went: no cached answer is trusted now.
      // Its connection's close may reach this process after the pool's (a busy machine, 4
      // workers on 2 cores): polled, the timeout a guard against a hang, not a measure.
      await expect
        .poll(async () => (await app.inject({ method: 'GET', url: '/metrics' })).body, {
          timeout: 10_000,
          interval: 20,
        })
        .toContain('\nsekuire_listen_up 0\n');
      expect((await app.inject({ method: 'GET', url: '/api/v1/health' })).statusCode).toBe(200);
    } finally {
      await app.close();
      await store.close().catch(() => undefined);
    }
  });
});
