// Server throughput per engine (100 and 100,000 keys) against bare node:http, and how fast a revocation lands.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Engine } from '../../packages/server/src/store/store.js';
import { createDatabase, dropDatabase } from '../helpers/postgres.js';
import { rawSql } from '../helpers/raw-sql.js';
import { type LoadFigures, type LoadOptions, loadTest, STATUS_PATH, statusHeaders } from './load.js';
import { clusterCpu, type Resources, type Server, startArgs } from './processes.js';
import { type Credential, countTouched, type SeedKind, type SeedResult, seedDatabase } from './seed.js';
import { percentile } from './stats.js';

export interface ServerBenchOptions extends LoadOptions {
  /** Rounds of the compared load runs, alternating between targets; medians are quoted. */
  readonly rounds: number;
  readonly serverPath: string;
  readonly barePath: string;
  readonly smallKeys: number;
  readonly largeKeys: number;
  /** Keys in rotation for the targets, spread over the whole table: the same on both databases. */
  readonly rotation: number;
  /** Keys in rotation for an extra, informational run on the large database. */
  readonly wideRotation: number;
  /** Keys revoked one after another to time how fast a revocation reaches the other instance. */
  readonly revocations: number;
  readonly baseEnv: NodeJS.ProcessEnv;
  /** The maintenance URL of a PostgreSQL cluster the bench may make databases in. */
  readonly postgresAdminUrl: string | undefined;
  /** That cluster's data directory (postmaster.pid): its CPU is measured during the PostgreSQL runs. */
  readonly postgresDataDir: string | undefined;
}

export interface LoadRun {
  /** Distinct keys the connections cycled through. */
  readonly rotation: number;
  /** The round with the median req/s: its figures (p99, memory) are quoted together. */
  readonly load: LoadFigures;
  /** Every round, in the order run (alternating with the other targets). */
  readonly rounds: readonly LoadFigures[];
}

export interface SeededServer {
  readonly seed: Omit<SeedResult, 'pool'>;
  readonly run: LoadRun;
  /** Devices whose last_seen_at the runs updated (0: the runs measured reads only). */
  readonly touchedDevices: number;
}

export interface EngineResult {
  /** Client keys bound without a device key (legacy bindings): unsigned requests. */
  readonly small: SeededServer;
  readonly large: SeededServer;
  /** Informational: the large database with many more keys in rotation, one round. */
  readonly wide: LoadRun;
  /** smallKeys client keys bound with a device key: every request signed, with a new proof. */
  readonly signed: SeededServer;
  /** smallKeys server keys: never bound, unsigned, no proof asked. */
  readonly serverKeys: SeededServer;
  /**
   * PostgreSQL only: rows in the shared replay cache (proof_nonces) after the signed runs, one
   * per accepted proof not yet purged: the claim every signed request paid for.
   */
  readonly nonceRows: number | undefined;
}

/** From `revoke-key` returning to the other instance refusing the key. */
export interface RevocationFigures {
  readonly engine: Engine;
  /** How many instances served (2 on PostgreSQL: revoked through neither, asked on the other). */
  readonly instances: number;
  readonly rounds: number;
  /** Rounds whose first request after revoke-key returned was still accepted (promised: 0). */
  readonly misses: number;
  readonly refusalMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** revoke-key's own wall time, node start-up included. */
  readonly commandMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

export interface ServerBenchResult {
  readonly responseBytes: number;
  readonly bare: LoadRun;
  readonly sqlite: EngineResult;
  readonly postgres: EngineResult | undefined;
  readonly revocations: RevocationFigures[];
}

interface Probe {
  readonly status: number;
  readonly bytes: number;
  readonly body: string;
}

/** GET status with the credential's headers (signed when its binding holds a device key), or with `headers`. */
async function probe(
  baseUrl: string,
  credential: Credential,
  headers: Record<string, string> = statusHeaders(credential, baseUrl),
): Promise<Probe> {
  const response = await fetch(`${baseUrl}${STATUS_PATH}`, { headers });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, bytes: body.length, body: body.toString('utf8') };
}

/**
 * The real answer must be a 200 naming the bound device (or, for a server key, none), or the
 * load would measure errors.
 */
async function checkedProbe(server: Server, credential: Credential, bound = true): Promise<Probe> {
  const answer = await probe(server.url, credential);
  const parsed = JSON.parse(answer.body) as { device?: unknown };
  const device = parsed.device !== null && parsed.device !== undefined;
  if (answer.status !== 200 || device !== bound) {
    throw new Error(`${server.label}: status probe answered ${answer.status}: ${answer.body}`);
  }
  return answer;
}

/** A 401 with this error code, or throws: what the server must answer a request without a valid proof. */
function expectRefusal(server: Server, what: string, answer: Probe, code: string): void {
  if (answer.status !== 401 || !answer.body.includes(`"${code}"`)) {
    throw new Error(
      `${server.label}: ${what} answered ${answer.status} (expected 401 ${code}): ${answer.body}`,
    );
  }
}

/**
 * The signed load measures proof verification only if the server insists on proofs for these
 * bindings: an unsigned request must be refused (proof_required), and so must a proof sent twice
 * (proof_replayed), while a fresh proof is accepted.
 */
async function checkProofEnforced(server: Server, credential: Credential): Promise<void> {
  const unsigned = { 'x-api-key': credential.key, 'x-sekuire-device': credential.fingerprint };
  expectRefusal(
    server,
    'an unsigned request',
    await probe(server.url, credential, unsigned),
    'proof_required',
  );
  const once = statusHeaders(credential, server.url);
  const first = await probe(server.url, credential, once);
  if (first.status !== 200)
    throw new Error(`${server.label}: a signed request answered ${first.status}: ${first.body}`);
  expectRefusal(server, 'a replayed proof', await probe(server.url, credential, once), 'proof_replayed');
}

/** `count` credentials spread evenly over `pool`. */
function spread(pool: readonly Credential[], count: number): Credential[] {
  const step = Math.max(1, Math.floor(pool.length / count));
  return pool.filter((_, index) => index % step === 0).slice(0, count);
}

/** Rows in PostgreSQL's shared replay cache. */
async function nonceRows(url: string): Promise<number> {
  const sql = rawSql(url);
  try {
    const row = await sql.get<{ n: string }>('SELECT count(*)::text AS n FROM proof_nonces');
    return Number(row?.n ?? 0);
  } finally {
    await sql.close();
  }
}

function log(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

function describe(label: string, load: LoadFigures): string {
  const database =
    load.cpuPercent.database === undefined ? '' : ` / PostgreSQL ${load.cpuPercent.database.toFixed(0)} %`;
  return `${label}: ${load.requestsPerSecond.toFixed(0)} req/s, p99 ${load.latencyMs.p99} ms, errors ${load.errors}, non2xx ${load.non2xx}, peak RSS ${load.serverMemory.hwmMb.toFixed(1)} MB, CPU server ${load.cpuPercent.server.toFixed(0)} % / autocannon ${load.cpuPercent.loadGenerator.toFixed(0)} %${database}${load.proofs === undefined ? '' : `, proofs presigned ${load.proofs.presigned} / signed during the run ${load.proofs.signedDuringRun}`}`;
}

function summary(values: readonly number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? Number.NaN };
}

export async function serverBench(
  resources: Resources,
  options: ServerBenchOptions,
): Promise<ServerBenchResult> {
  const dir = await resources.tempDir('sekuire-bench-server-');
  const databases: string[] = [];
  // The same secret for the seeding code and the servers, so the seeded digests match.
  const secretHex = randomBytes(32).toString('hex');
  const secret = Buffer.from(secretHex, 'hex');
  const env = { ...options.baseEnv, SEKUIRE_SERVER_SECRET: secretHex };

  const newDatabase = async (engine: Engine, name: string): Promise<string> => {
    if (engine === 'sqlite') return join(dir, `${name}.db`);
    if (options.postgresAdminUrl === undefined) throw new Error('no PostgreSQL cluster');
    const url = await createDatabase(options.postgresAdminUrl);
    databases.push(url);
    return url;
  };
  const startServers = (engine: Engine, db: string, count: number): Promise<Server[]> =>
    Promise.all(
      Array.from({ length: count }, (_, index) =>
        resources.startServer(
          `sekuire-server on ${engine}${count > 1 ? ` #${index + 1}` : ''}`,
          startArgs(options.serverPath, db),
          env,
        ),
      ),
    );

  const postgresCpu = options.postgresDataDir === undefined ? undefined : clusterCpu(options.postgresDataDir);
  const measure = async (
    label: string,
    server: Server,
    pool: readonly Credential[],
    engine: Engine | undefined,
  ): Promise<LoadFigures> => {
    log(`load: ${label}, ${pool.length} keys in rotation...`);
    const databaseCpu = engine === 'postgres' ? postgresCpu : undefined;
    const load = await loadTest(server.url, server.pid, pool, options, databaseCpu);
    log(describe(label, load));
    return load;
  };

  interface Target {
    readonly label: string;
    /** undefined: the bare baseline. */
    readonly engine: Engine | undefined;
    readonly server: Server;
    readonly pool: readonly Credential[];
    readonly rounds: LoadFigures[];
  }
  /** Round after round, every target once: a busy moment of the machine hits all of them alike. */
  const alternate = async (targets: readonly Target[]): Promise<void> => {
    for (let round = 1; round <= options.rounds; round++) {
      for (const target of targets) {
        target.rounds.push(
          await measure(
            `${target.label} (round ${round}/${options.rounds})`,
            target.server,
            target.pool,
            target.engine,
          ),
        );
      }
    }
  };
  const medianRun = (target: Target): LoadRun => {
    const sorted = [...target.rounds].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
    const load = sorted[Math.floor((sorted.length - 1) / 2)] as LoadFigures;
    return { rotation: target.pool.length, load, rounds: target.rounds };
  };

  interface Seeded {
    readonly db: string;
    readonly seed: Omit<SeedResult, 'pool'>;
    readonly pool: Credential[];
    readonly seededAt: Date;
    readonly server: Server;
  }
  const seedLabels: Readonly<Record<SeedKind, string>> = {
    legacy: 'each bound to a device without a device key (legacy bindings, unsigned requests)',
    signed: 'the pooled ones bound with a device key (signed requests)',
    server: 'server keys, unbound (unsigned requests)',
  };
  const seeded = async (
    engine: Engine,
    keys: number,
    poolSize: number,
    kind: SeedKind = 'legacy',
  ): Promise<Seeded> => {
    const db = await newDatabase(engine, `keys-${keys}-${kind}`);
    const seededAt = new Date();
    log(`seeding ${keys} keys on ${engine}, ${seedLabels[kind]}...`);
    const { pool, ...seed } = await seedDatabase(db, secret, keys, poolSize, seededAt, kind);
    log(`seeded ${keys} keys in ${seed.seconds.toFixed(2)} s`);
    const [server] = await startServers(engine, db, 1);
    if (server === undefined) throw new Error('no server');
    const first = pool[0];
    if (first === undefined) throw new Error('the seeding returned no key');
    if (kind === 'signed') {
      if (pool.some((credential) => credential.deviceKey === undefined)) {
        throw new Error('the signed seeding left a pooled key without a device key');
      }
      await checkProofEnforced(server, first);
    }
    await checkedProbe(server, first, kind !== 'server');
    return { db, seed, pool, seededAt, server };
  };

  const revocations = async (engine: Engine): Promise<RevocationFigures> => {
    const db = await newDatabase(engine, 'revocations');
    const { pool } = await seedDatabase(db, secret, options.revocations, options.revocations);
    // SQLite: one server per database file; PostgreSQL: two instances, revoked through neither.
    const servers = await startServers(engine, db, engine === 'postgres' ? 2 : 1);
    const asked = servers.at(-1) as Server;
    const refusal: number[] = [];
    const command: number[] = [];
    let misses = 0;
    try {
      for (const credential of pool) {
        for (const server of [...servers, ...servers]) await checkedProbe(server, credential);
        const started = performance.now();
        await new Promise<void>((resolve, reject) => {
          execFile(
            process.execPath,
            [options.serverPath, 'revoke-key', '--db', db, '--id', credential.id],
            { env },
            (error, _stdout, stderr) =>
              error ? reject(new Error(`revoke-key failed: ${stderr}`)) : resolve(),
          );
        });
        const returned = performance.now();
        command.push(returned - started);
        let first = true;
        for (;;) {
          const answer = await probe(asked.url, credential);
          if (answer.status === 401) break;
          if (first) misses += 1;
          first = false;
          if (performance.now() - returned > 10_000) throw new Error('a revoked key was accepted for 10 s');
        }
        refusal.push(performance.now() - returned);
      }
    } finally {
      for (const server of servers) await resources.stop(server.child);
    }
    const figures = {
      engine,
      instances: servers.length,
      rounds: pool.length,
      misses,
      refusalMs: summary(refusal),
      commandMs: summary(command),
    };
    log(
      `revocation on ${engine}: refused ${figures.refusalMs.p50.toFixed(2)} ms (p50) / ${figures.refusalMs.p99.toFixed(2)} ms (p99) after revoke-key returned (${misses} misses); revoke-key took ${figures.commandMs.p50.toFixed(0)} ms (p50)`,
    );
    return figures;
  };

  try {
    // The baseline: a bare node:http server answering a body as long as the real status answer.
    const engines: Engine[] = options.postgresAdminUrl === undefined ? ['sqlite'] : ['sqlite', 'postgres'];
    interface EngineServers {
      readonly small: Seeded;
      readonly large: Seeded;
      readonly signed: Seeded;
      readonly serverKeys: Seeded;
    }
    const servers = new Map<Engine, EngineServers>();
    for (const engine of engines) {
      servers.set(engine, {
        small: await seeded(engine, options.smallKeys, options.rotation),
        large: await seeded(engine, options.largeKeys, options.wideRotation),
        signed: await seeded(engine, options.smallKeys, options.rotation, 'signed'),
        serverKeys: await seeded(engine, options.smallKeys, options.rotation, 'server'),
      });
    }
    const reference = servers.get('sqlite') as EngineServers;
    const sample = reference.small.pool[0] as Credential;
    const responseBytes = (await checkedProbe(reference.small.server, sample)).bytes;
    const bareServer = await resources.startServer(
      'bare node:http',
      [options.barePath, String(responseBytes)],
      env,
    );
    const answer = await probe(bareServer.url, sample);
    if (answer.status !== 200 || answer.bytes !== responseBytes) {
      throw new Error(`bare server answered ${answer.status} with ${answer.bytes} bytes`);
    }

    const target = (
      label: string,
      engine: Engine | undefined,
      server: Server,
      pool: readonly Credential[],
    ): Target => ({
      label,
      engine,
      server,
      pool,
      rounds: [],
    });
    const bare = target(
      `bare node:http, ${responseBytes}-byte body`,
      undefined,
      bareServer,
      spread(reference.small.pool, options.rotation),
    );
    const perEngine = engines.map((engine) => {
      const pair = servers.get(engine) as EngineServers;
      return {
        engine,
        pair,
        small: target(
          `${engine}, ${options.smallKeys} keys`,
          engine,
          pair.small.server,
          spread(pair.small.pool, options.rotation),
        ),
        large: target(
          `${engine}, ${options.largeKeys} keys`,
          engine,
          pair.large.server,
          spread(pair.large.pool, options.rotation),
        ),
        signed: target(
          `${engine}, ${options.smallKeys} keys, signed`,
          engine,
          pair.signed.server,
          spread(pair.signed.pool, options.rotation),
        ),
        serverKeys: target(
          `${engine}, ${options.smallKeys} server keys`,
          engine,
          pair.serverKeys.server,
          spread(pair.serverKeys.pool, options.rotation),
        ),
      };
    });
    await alternate([
      bare,
      ...perEngine.flatMap((entry) => [entry.small, entry.large, entry.signed, entry.serverKeys]),
    ]);
    await resources.stop(bareServer.child);

    const results = new Map<Engine, EngineResult>();
    for (const entry of perEngine) {
      const wide = target(
        `${entry.engine}, ${options.largeKeys} keys, wide rotation`,
        entry.engine,
        entry.pair.large.server,
        entry.pair.large.pool,
      );
      wide.rounds.push(await measure(wide.label, wide.server, wide.pool, wide.engine));
      const { pair } = entry;
      for (const one of [pair.small, pair.large, pair.signed, pair.serverKeys]) {
        await resources.stop(one.server.child);
      }
      const result = async (one: Seeded, measured: Target): Promise<SeededServer> => ({
        seed: one.seed,
        run: medianRun(measured),
        touchedDevices: await countTouched(one.db, one.seededAt),
      });
      results.set(entry.engine, {
        small: await result(pair.small, entry.small),
        large: await result(pair.large, entry.large),
        wide: medianRun(wide),
        signed: await result(pair.signed, entry.signed),
        serverKeys: await result(pair.serverKeys, entry.serverKeys),
        nonceRows: entry.engine === 'postgres' ? await nonceRows(pair.signed.db) : undefined,
      });
    }

    const revocationFigures: RevocationFigures[] = [];
    for (const engine of engines) revocationFigures.push(await revocations(engine));
    return {
      responseBytes,
      bare: medianRun(bare),
      sqlite: results.get('sqlite') as EngineResult,
      postgres: results.get('postgres'),
      revocations: revocationFigures,
    };
  } finally {
    if (options.postgresAdminUrl !== undefined) {
      for (const url of databases) await dropDatabase(options.postgresAdminUrl, url).catch(() => {});
    }
    await resources.removeDir(dir);
  }
}
