// PostgreSQL restarting under load: requests fail fast (503, the CLI says 13), recover by themselves, lose nothing.
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { Machine } from '../helpers/cli.js';
import { describeOnPostgres } from '../helpers/engines.js';
import {
  type Cluster,
  createDatabase,
  restartCluster,
  startCluster,
  stopCluster,
} from '../helpers/postgres.js';
import { startServer, type TestServer } from '../helpers/server.js';

describeOnPostgres('a PostgreSQL restart', () => {
  // A cluster of its own: the run's shared one must not go away under other test files.
  let cluster: Cluster;
  let server: TestServer;
  let machine: Machine;

  beforeAll(async () => {
    if (inject('postgres') === null) return;
    cluster = await startCluster();
    const url = await createDatabase(cluster.adminUrl);
    server = await startServer({ database: url, env: { SEKUIRE_SERVER_SECRET: '7a'.repeat(32) } });
    machine = new Machine('restart-machine', { SEKUIRE_BACKEND_URL: server.url, SEKUIRE_RETRIES: '0' });
  }, 120_000);
  afterAll(async () => {
    machine?.cleanup();
    await server?.stop();
    if (cluster !== undefined) await stopCluster(cluster);
  });

  it('answers 503 at once while it is down, serves again when it is back, and keeps every acknowledged write', async () => {
    const { key, id } = await server.createKey();
    expect((await machine.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const second = await server.createKey({ email: 'second@example.com' });

    const statuses: number[] = [];
    let loading = true;
    const load = (async () => {
      while (loading) {
        const started = Date.now();
        const response = await fetch(`${server.url}/api/v1/cli/status`, {
          headers: { 'x-api-key': second.key, 'x-sekuire-device': 'd'.repeat(64) },
        });
        await response.arrayBuffer();
        statuses.push(response.status);
        // Failing fast: no request waits for the database to come back.
        expect(Date.now() - started).toBeLessThan(6_000);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await restartCluster(cluster, 1_500);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    loading = false;
    await load;

    expect(statuses[0]).toBe(200);
    expect(statuses.at(-1)).toBe(200);
    expect(new Set(statuses.filter((code) => code !== 200))).toEqual(new Set([503]));
    // The CLI maps the 503 to "backend unreachable" (13) and, once it is back, all is as it was:
    // the binding acknowledged before the restart is still there.
    const status = await machine.run(['status', '--json']);
    expect(status.code).toBe(0);
    expect(status.json<{ device: { bound_here: boolean } }>().device.bound_here).toBe(true);
    // And invalidation works again on the new connections.
    await server.revokeKey(id);
    expect((await machine.run(['status'])).code).toBe(11);
  });
});
