// The verify section of `npm run bench` (BENCH_SECTIONS=verify): POST /api/v1/verify throughput
// against bare node:http (SQLite and PostgreSQL), and how long after revoke-key returns a
// service behind sekuire-verify refuses the key. run.ts calls verifyBench; it changes nothing.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import autocannon, { type Request } from 'autocannon';
import fastify from 'fastify';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import { proofHeaders } from '../../packages/cli/src/core/proof.js';
import type { Engine } from '../../packages/server/src/store/store.js';
import { sekuireVerify } from '../../packages/verify/src/index.js';
import { createDatabase, dropDatabase } from '../helpers/postgres.js';
import { serverOutput } from '../helpers/server-commands.js';
import { bindDevice, signedRequest } from '../helpers/service-client.js';
import { familyCpuSeconds, type Resources, startArgs } from './processes.js';
import { median, percentile } from './stats.js';

export interface VerifyBenchOptions {
  readonly serverPath: string;
  readonly barePath: string;
  /** The cluster run.ts started; without it, SQLite only. */
  readonly postgresAdminUrl: string | undefined;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  /** Rounds alternating between the targets; medians are quoted. */
  readonly rounds: number;
  /** Revocations per engine. */
  readonly revocations: number;
  readonly baseEnv: NodeJS.ProcessEnv;
}

/** Proofs signed before a run, per second of it: more than a run answers here. */
const PRESIGN_RATE = 6_000;
const SERVICE_URL = 'https://deploy.acme.example/deploy?env=prod';

interface Client {
  readonly key: string;
  readonly device: DeviceKey;
  readonly fingerprint: string;
}

interface Target {
  readonly label: string;
  readonly url: string;
  readonly pid: number;
  /** POST /api/v1/verify with these keys; without it, GET / (bare node:http). */
  readonly verify?: { readonly verifyKey: string; readonly clients: readonly Client[] };
  /** GET /api/v1/cli/status signed by these devices: the server's own API, for comparison. */
  readonly status?: { readonly clients: readonly Client[] };
}

export interface VerifyRound {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly invalid: number;
  readonly cpuUsPerRequest: number;
}

/** One target's figures: medians of its rounds. */
export interface VerifyTargetFigures {
  readonly label: string;
  /** bare: GET / of bare node:http (the baseline); verify: POST /api/v1/verify; status: signed GET /api/v1/cli/status. */
  readonly kind: 'bare' | 'verify' | 'status';
  readonly engine: Engine | undefined;
  readonly rounds: readonly VerifyRound[];
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerRequest: number;
  /** Summed over the measured rounds. */
  readonly non2xx: number;
  readonly errors: number;
}

export interface RevocationFigures {
  readonly engine: Engine;
  /** From revoke-key's return to the service's first refusal, per revocation. */
  readonly ms: readonly number[];
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Requests sent after revoke-key returned and still accepted by the service. */
  readonly violations: number;
}

export interface VerifyBenchResult {
  readonly rounds: number;
  /** Bare node:http first, then /verify per engine, then signed status (SQLite). */
  readonly targets: readonly VerifyTargetFigures[];
  readonly revocations: readonly RevocationFigures[];
}

function cpuSeconds(pid: number): number {
  let total = 0;
  for (const seconds of familyCpuSeconds(pid).values()) total += seconds;
  return total;
}

/** The bodies of /verify requests, each with a proof of its own, made before the load. */
function presign(clients: readonly Client[], count: number): string[] {
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) {
    const client = clients[i % clients.length] as Client;
    const headers = {
      'x-api-key': client.key,
      'x-sekuire-device': client.fingerprint,
      ...proofHeaders(client.device, 'POST', new URL(SERVICE_URL), '{"ref":"main"}', Date.now() / 1000),
    };
    bodies.push(JSON.stringify({ request: { method: 'POST', url: SERVICE_URL, headers } }));
  }
  return bodies;
}

/** Signed status headers, made before the load. */
function presignStatus(baseUrl: string, clients: readonly Client[], count: number): Record<string, string>[] {
  const url = new URL('/api/v1/cli/status', baseUrl);
  const all: Record<string, string>[] = [];
  for (let i = 0; i < count; i++) {
    const client = clients[i % clients.length] as Client;
    all.push({
      'x-api-key': client.key,
      'x-sekuire-device': client.fingerprint,
      ...proofHeaders(client.device, 'GET', url, undefined, Date.now() / 1000),
    });
  }
  return all;
}

/**
 * One run. `check`: read every answer (a warmup does, to prove the answers are valid ones); a
 * measured run does not, so the load generator spends on the measured run what it spends on
 * the bare one.
 */
async function load(
  target: Target,
  connections: number,
  seconds: number,
  check: boolean,
): Promise<VerifyRound> {
  let invalid = 0;
  let requests: Request[];
  if (target.status !== undefined) {
    const { clients } = target.status;
    const all = presignStatus(target.url, clients, PRESIGN_RATE * seconds);
    let next = 0;
    requests = [
      {
        method: 'GET',
        path: '/api/v1/cli/status',
        setupRequest: (request) => ({
          ...request,
          headers: { ...request.headers, ...(all[next++] ?? presignStatus(target.url, clients, 1)[0]) },
        }),
        ...(check && {
          onResponse: (status: number) => {
            if (status !== 200) invalid += 1;
          },
        }),
      },
    ];
  } else if (target.verify === undefined) {
    requests = [{ method: 'GET', path: '/' }];
  } else {
    const bodies = presign(target.verify.clients, PRESIGN_RATE * seconds);
    let next = 0;
    const { verifyKey, clients } = target.verify;
    requests = [
      {
        method: 'POST',
        path: '/api/v1/verify',
        headers: { 'content-type': 'application/json', 'x-api-key': verifyKey },
        setupRequest: (request) => ({
          ...request,
          body: bodies[next++] ?? (presign(clients, 1)[0] as string),
        }),
        ...(check && {
          onResponse: (_status: number, body: string) => {
            if (!body.includes('"valid":true')) invalid += 1;
          },
        }),
      },
    ];
  }
  const before = cpuSeconds(target.pid);
  const result = await autocannon({
    url: target.url,
    connections,
    duration: seconds,
    pipelining: 1,
    timeout: 10,
    requests,
  });
  const used = cpuSeconds(target.pid) - before;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    invalid,
    cpuUsPerRequest: (used / Math.max(1, result.requests.total)) * 1e6,
  };
}

async function verifyTarget(label: string, server: VerifyServer): Promise<Target> {
  const verifyKey = (await server.createKey({ org: 'Acme', type: 'server', permissions: ['verify'] })).key;
  const clients: Client[] = [];
  for (let i = 0; i < 8; i++) {
    const fingerprint = i.toString(16).padStart(2, '0').repeat(32);
    const { key } = await server.createKey({ email: `dev${i}@acme.example`, org: 'Acme' });
    clients.push({ key, fingerprint, device: await bindDevice(server.url, key, fingerprint) });
  }
  return { label, url: server.url, pid: server.pid, verify: { verifyKey, clients } };
}

/** A sekuire-server started for this section; its commands run in the bench's process on its database. */
interface VerifyServer {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  createKey(options: {
    email?: string;
    org?: string;
    type?: 'client' | 'server';
    permissions?: readonly string[];
  }): Promise<{ key: string; id: string }>;
  /** Returns when revoke-key does: once every running server has confirmed it forgot the key. */
  revokeKey(id: string): Promise<void>;
}

/**
 * As test/helpers/server.ts starts one (the same arguments, the same admin commands run in this
 * process), from the bench's copy of the build and under its Resources.
 */
async function startVerifyServer(
  resources: Resources,
  options: VerifyBenchOptions,
  label: string,
  database: string,
  secretFile: string,
): Promise<VerifyServer> {
  const server = await resources.startServer(
    label,
    startArgs(
      options.serverPath,
      database,
      '--secret-file',
      secretFile,
      // The request log off, as for the other throughput figures: on, each answer is a line the
      // bench process reads back (the ops section measures what the log costs).
      '--log-level',
      'silent',
    ),
    options.baseEnv,
  );
  const admin = (command: string[]) => serverOutput([...command, '--db', database], { env: {} });
  return {
    url: server.url,
    pid: server.pid,
    child: server.child,
    async createKey(key) {
      const command = ['create-key', '--json', '--secret-file', secretFile];
      command.push('--email', key.email ?? 'dev@example.com', '--env', 'test');
      if (key.org !== undefined) command.push('--org', key.org);
      if (key.type !== undefined) command.push('--type', key.type);
      for (const permission of key.permissions ?? []) command.push('--permission', permission);
      const created = JSON.parse(await admin(command)) as { key: string; id: string };
      return { key: created.key, id: created.id };
    },
    async revokeKey(id) {
      await admin(['revoke-key', '--id', id]);
    },
  };
}

/**
 * A service behind sekuire-verify, a client calling it in a loop; revoke-key runs (in the
 * bench's process on the server's database, as test/helpers/server.ts runs it: the running
 * server learns of it as of any other process's) and the time from its return to the first
 * refused answer is taken. Any answer accepted for a request sent after the return is a violation.
 */
async function revocationLatency(
  server: VerifyServer,
  revocations: number,
): Promise<{ ms: number[]; violations: number }> {
  const verifyKey = (await server.createKey({ org: 'Acme', type: 'server', permissions: ['verify'] })).key;
  const app = fastify();
  await app.register(sekuireVerify, { server: server.url, key: verifyKey });
  app.get('/deploys', async (request) => ({ by: request.sekuire?.user.email }));
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const url = new URL('/deploys', base);
  const ms: number[] = [];
  let violations = 0;
  try {
    for (let i = 0; i < revocations; i++) {
      const fingerprint = 'c'.repeat(64);
      const created = await server.createKey({ email: 'dev@acme.example', org: 'Acme' });
      const device = await bindDevice(server.url, created.key, fingerprint);
      let revokedAt: number | undefined;
      let refusedAt: number | undefined;
      const calls = (async () => {
        while (refusedAt === undefined) {
          const sent = performance.now();
          const answer = await signedRequest(url, 'GET', created.key, device, undefined, fingerprint);
          const done = performance.now();
          if (answer.status === 401) refusedAt = done;
          else if (revokedAt !== undefined && sent > revokedAt) violations += 1;
        }
      })();
      // The key in use for a while first: whatever could be cached is.
      await new Promise((r) => setTimeout(r, 200));
      await server.revokeKey(created.id);
      revokedAt = performance.now();
      await calls;
      ms.push(Math.max(0, (refusedAt as number) - revokedAt));
    }
  } finally {
    await app.close();
  }
  return { ms, violations };
}

function figures(
  target: Target,
  kind: VerifyTargetFigures['kind'],
  engine: Engine | undefined,
  rounds: readonly VerifyRound[],
): VerifyTargetFigures {
  return {
    label: target.label,
    kind,
    engine,
    rounds,
    requestsPerSecond: median(rounds.map((r) => r.rps)),
    p50Ms: median(rounds.map((r) => r.p50)),
    p99Ms: median(rounds.map((r) => r.p99)),
    cpuUsPerRequest: median(rounds.map((r) => r.cpuUsPerRequest)),
    non2xx: rounds.reduce((s, r) => s + r.non2xx, 0),
    errors: rounds.reduce((s, r) => s + r.errors, 0),
  };
}

function log(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

export async function verifyBench(
  resources: Resources,
  options: VerifyBenchOptions,
): Promise<VerifyBenchResult> {
  // The in-process admin commands (create-key, revoke-key) read the version the build inlines.
  const inlined = globalThis as { __SEKUIRE_VERSION__?: string };
  inlined.__SEKUIRE_VERSION__ ??= 'bench';
  const dir = await resources.tempDir('sekuire-bench-verify-');
  const adminUrl = options.postgresAdminUrl;
  const database = adminUrl === undefined ? undefined : await createDatabase(adminUrl);
  const children: ChildProcess[] = [];
  try {
    const sqlite = await startVerifyServer(
      resources,
      options,
      'sekuire-server (verify, SQLite)',
      join(dir, 'sekuire.db'),
      join(dir, 'sekuire.db.secret'),
    );
    children.push(sqlite.child);
    const postgres =
      database === undefined
        ? undefined
        : await startVerifyServer(
            resources,
            options,
            'sekuire-server (verify, PostgreSQL)',
            database,
            join(dir, 'postgres.secret'),
          );
    if (postgres !== undefined) children.push(postgres.child);
    const bare = await resources.startServer('bare node:http', [options.barePath, '200'], options.baseEnv);
    children.push(bare.child);
    const onSqlite = await verifyTarget('/verify, SQLite', sqlite);
    const onPostgres =
      postgres === undefined ? undefined : await verifyTarget('/verify, PostgreSQL', postgres);
    const targets: { target: Target; kind: VerifyTargetFigures['kind']; engine: Engine | undefined }[] = [
      {
        target: { label: 'bare node:http (GET, 200 B)', url: bare.url, pid: bare.pid },
        kind: 'bare',
        engine: undefined,
      },
      { target: onSqlite, kind: 'verify', engine: 'sqlite' },
      ...(onPostgres === undefined
        ? []
        : [{ target: onPostgres, kind: 'verify' as const, engine: 'postgres' as const }]),
      {
        target: {
          label: 'signed /cli/status, SQLite',
          url: sqlite.url,
          pid: sqlite.pid,
          status: { clients: onSqlite.verify?.clients ?? [] },
        },
        kind: 'status',
        engine: 'sqlite',
      },
    ];
    const rounds = new Map<Target, VerifyRound[]>(targets.map(({ target }) => [target, []]));
    // Rounds alternate between the targets, so a neighbour's load on this shared machine falls on all.
    for (let round = 0; round < options.rounds; round++) {
      for (const { target } of targets) {
        log(`verify: ${target.label} (round ${round + 1}/${options.rounds})...`);
        const warmup = await load(target, options.connections, options.warmupSeconds, true);
        if (warmup.invalid > 0 || warmup.non2xx > 0) {
          throw new Error(
            `${target.label}: ${warmup.invalid} answers not valid, ${warmup.non2xx} not 2xx in the warmup`,
          );
        }
        const measured = await load(target, options.connections, options.durationSeconds, false);
        log(`${Math.round(measured.rps)} req/s, p99 ${measured.p99} ms`);
        rounds.get(target)?.push(measured);
      }
    }
    const revocations: RevocationFigures[] = [];
    for (const [engine, server] of [
      ['sqlite', sqlite],
      ['postgres', postgres],
    ] as const) {
      if (server === undefined) continue;
      log(`verify: ${options.revocations} revocations behind sekuire-verify, ${engine}...`);
      const { ms, violations } = await revocationLatency(server, options.revocations);
      const sorted = [...ms].sort((a, b) => a - b);
      revocations.push({
        engine,
        ms,
        medianMs: median(ms),
        p99Ms: percentile(sorted, 0.99),
        maxMs: sorted.at(-1) ?? 0,
        violations,
      });
    }
    return {
      rounds: options.rounds,
      targets: targets.map(({ target, kind, engine }) =>
        figures(target, kind, engine, rounds.get(target) ?? []),
      ),
      revocations,
    };
  } finally {
    for (const child of children) await resources.stop(child);
    // The PostgreSQL server's connections are closed by now.
    if (adminUrl !== undefined && database !== undefined) await dropDatabase(adminUrl, database);
    await resources.removeDir(dir);
  }
}
