// The PostgreSQL settings in a --db URL: a wrong one is one line and exit 2; the right ones take effect.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { StoreError } from '../../packages/server/src/store/errors.js';
import { openStore } from '../../packages/server/src/store/open.js';
import { pgSettings } from '../../packages/server/src/store/postgres/url-settings.js';
import { describeOnPostgres } from '../helpers/engines.js';
import {
  type Cluster,
  createDatabase,
  dropDatabase,
  startCluster,
  stopCluster,
} from '../helpers/postgres.js';
import { rawSql } from '../helpers/raw-sql.js';
import { runServer } from '../helpers/server-commands.js';
import { selfSignedCert } from '../helpers/tls.js';

/** Nothing listens there: every case must be refused before any connection is tried. */
const BASE = 'postgres://sekuire@127.0.0.1:1/sekuire';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sekuire-pg-settings-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('a wrong setting in the URL', () => {
  it.each([
    [
      'pool_max=0',
      'The database URL\'s pool_max must be a whole number from 1 to 1000 (connections per instance), not "0".',
    ],
    [
      'pool_max=ten',
      'The database URL\'s pool_max must be a whole number from 1 to 1000 (connections per instance), not "ten".',
    ],
    [
      'statement_timeout=5%20seconds',
      'The database URL\'s statement_timeout must be milliseconds (5000) or have a unit (5s, 2min); 0 turns it off; not "5 seconds".',
    ],
    [
      'sslmode=verify',
      'The database URL\'s sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full, not "verify".',
    ],
    [
      'sslmode=require&sslrootcert=/etc/ca.pem',
      'The database URL names an sslrootcert but does not verify the server with it: add sslmode=verify-full (or verify-ca).',
    ],
    [
      'sslmode=verify-full&sslrootcert=/nonexistent/ca.pem',
      "Cannot read the database URL's sslrootcert /nonexistent/ca.pem: ENOENT.",
    ],
  ])('?%s: start says so in one line and exits 2', async (query, line) => {
    const run = await runServer(['start', '--port', '0', '--db', `${BASE}?${query}`], {
      env: { SEKUIRE_SERVER_SECRET: '4b'.repeat(32) },
    });
    expect(run).toEqual({ code: 2, stdout: '', stderr: `error: ${line}\n` });
  });

  it('an sslrootcert that holds no certificate: one line, exit 2, for any command', async () => {
    const file = join(dir, 'ca.pem');
    writeFileSync(file, 'not a certificate\n');
    const run = await runServer(['list-keys', '--db', `${BASE}?sslmode=verify-full&sslrootcert=${file}`]);
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: The database URL's sslrootcert ${file} holds no PEM certificate.\n`,
    });
  });

  it('the store refuses it too, as a StoreError naming the fix', async () => {
    const error = await openStore(`${BASE}?pool_max=-1`).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreError);
    expect([(error as StoreError).kind, (error as StoreError).message]).toEqual([
      'open',
      'The database URL\'s pool_max must be a whole number from 1 to 1000 (connections per instance), not "-1".',
    ]);
  });
});

describe('the settings read from the URL', () => {
  it("none: the pool of 10, no TLS, the server's statement timeout, the URL unchanged", () => {
    expect(pgSettings(BASE)).toEqual({ ok: true, settings: { url: BASE, poolMax: 10, tls: false } });
  });

  it('ours leave the URL; the others stay for PostgreSQL', () => {
    expect(pgSettings(`${BASE}?pool_max=3&application_name=x&statement_timeout=5s&sslmode=require`)).toEqual({
      ok: true,
      settings: { url: `${BASE}?application_name=x`, poolMax: 3, statementTimeout: '5s', tls: 'require' },
    });
  });

  it('verify-full trusts the given CA and checks the host name; verify-ca checks only the chain', () => {
    const { cert } = selfSignedCert(dir, ['127.0.0.1']);
    const full = pgSettings(`${BASE}?sslmode=verify-full&sslrootcert=${cert}`);
    const chain = pgSettings(`${BASE}?sslmode=verify-ca&sslrootcert=${cert}`);
    if (!full.ok || !chain.ok) throw new Error('refused');
    const ca =
      full.settings.tls !== false && typeof full.settings.tls === 'object' ? full.settings.tls.ca : undefined;
    expect(String(ca)).toContain('-----BEGIN CERTIFICATE-----');
    expect(full.settings.tls).toEqual({ rejectUnauthorized: true, host: '127.0.0.1', ca });
    expect(chain.settings.tls).toEqual({
      rejectUnauthorized: true,
      host: '127.0.0.1',
      ca,
      checkServerIdentity: expect.any(Function),
    });
    expect(pgSettings(`${BASE}?sslmode=verify-full`)).toEqual({
      ok: true,
      settings: { url: BASE, poolMax: 10, tls: { rejectUnauthorized: true, host: '127.0.0.1' } },
    });
    expect(pgSettings(`${BASE}?sslmode=disable`)).toEqual({
      ok: true,
      settings: { url: BASE, poolMax: 10, tls: false },
    });
  });
});

describeOnPostgres('pool_max and statement_timeout on the test cluster', () => {
  it("a query held by a lock fails with the store's error after the timeout; the pool opens no more than pool_max", async () => {
    const cluster = inject('postgres');
    if (cluster === null) return;
    const target = await createDatabase(cluster.adminUrl);
    const store = await openStore(`${target}?pool_max=2&statement_timeout=200`);
    const raw = rawSql(target);
    const holder = rawSql(target);
    try {
      expect(store.connections()).toEqual({ max: 2, inUse: 0 });
      await holder.exec('BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
      // Only the timeout can end these: the lock is held until the end of the test.
      const outcomes = await Promise.all(
        [1, 2, 3].map(() =>
          store.read.keys.byDigest(Buffer.alloc(32)).then(
            () => 'answered',
            (error: unknown) =>
              error instanceof StoreError ? `${error.kind}: ${error.message}` : String(error),
          ),
        ),
      );
      expect(outcomes).toEqual(
        Array(3).fill('unavailable: PostgreSQL cancelled a statement that ran past statement_timeout.'),
      );
      const database = new URL(target).pathname.slice(1);
      const rows = await raw.all<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ? AND application_name = 'sekuire-server'",
        [database],
      );
      expect(rows).toEqual([{ n: 2 }]);
    } finally {
      await holder.exec('ROLLBACK');
      await holder.close();
      await raw.close();
      await store.close();
      await dropDatabase(cluster.adminUrl, target);
    }
  });
});

describeOnPostgres(
  'TLS to PostgreSQL (a cluster of its own, with ssl=on and a throwaway certificate)',
  () => {
    let cluster: Cluster | undefined;
    afterEach(async () => {
      if (cluster !== undefined) await stopCluster(cluster).catch(() => undefined);
      cluster = undefined;
    });

    /** The outcome of opening the store at `url`: the connections it holds over TLS, or the error. */
    async function open(url: string, admin: string): Promise<string> {
      let store: Awaited<ReturnType<typeof openStore>>;
      try {
        store = await openStore(url);
      } catch (error) {
        return error instanceof StoreError ? `${error.kind}: ${error.message}` : String(error);
      }
      const raw = rawSql(admin);
      try {
        await store.ping();
        const [row] = await raw.all<{ tls: number; clear: number }>(
          `SELECT count(*) FILTER (WHERE s.ssl)::int AS tls, count(*) FILTER (WHERE NOT s.ssl)::int AS clear
         FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid WHERE a.application_name = 'sekuire-server'`,
        );
        return `open: ${row?.tls} over TLS, ${row?.clear} in clear`;
      } finally {
        await raw.close();
        await store.close();
      }
    }

    it('verify-full with the CA connects over TLS; a wrong CA or host name is refused; verify-ca skips the name', async () => {
      if (inject('postgres') === null) return;
      const server = selfSignedCert(mkdtempSync(join(dir, 'server-')), ['127.0.0.1']);
      const stranger = selfSignedCert(mkdtempSync(join(dir, 'stranger-')), ['127.0.0.1']);
      cluster = await startCluster(server);
      const target = await createDatabase(cluster.adminUrl);
      const byName = target.replace('@127.0.0.1:', '@localhost:');
      const where = (url: string) => url.replace(/\?.*$/, '');
      expect(await open(`${target}?sslmode=verify-full&sslrootcert=${server.cert}`, cluster.adminUrl)).toBe(
        'open: 1 over TLS, 0 in clear',
      );
      expect(await open(`${target}?sslmode=disable`, cluster.adminUrl)).toBe('open: 0 over TLS, 1 in clear');
      expect(await open(`${target}?sslmode=verify-full&sslrootcert=${stranger.cert}`, cluster.adminUrl)).toBe(
        `open: Cannot use the PostgreSQL database ${where(target)}?sslmode=verify-full&sslrootcert=${stranger.cert}: self-signed certificate`,
      );
      expect(await open(`${byName}?sslmode=verify-full&sslrootcert=${server.cert}`, cluster.adminUrl)).toBe(
        `open: Cannot use the PostgreSQL database ${where(byName)}?sslmode=verify-full&sslrootcert=${server.cert}: Hostname/IP does not match certificate's altnames: Host: localhost. is not cert's CN: 127.0.0.1`,
      );
      expect(await open(`${byName}?sslmode=verify-ca&sslrootcert=${server.cert}`, cluster.adminUrl)).toBe(
        'open: 1 over TLS, 0 in clear',
      );
    });
  },
);
