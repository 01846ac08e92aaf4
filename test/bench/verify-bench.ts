// `npx tsx test/bench/verify-bench.ts`: POST /api/v1/verify throughput against bare node:http
// (SQLite and PostgreSQL), and how long after revoke-key returns a service behind
// sekuire-verify refuses the key. Needs `npm run build` and PostgreSQL. Prints; changes nothing.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import autocannon, { type Request } from 'autocannon';
import fastify from 'fastify';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import { proofHeaders } from '../../packages/cli/src/core/proof.js';
import { sekuireVerify } from '../../packages/verify/src/index.js';
import { createDatabase, dropDatabase, startCluster, stopCluster } from '../helpers/postgres.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { bindDevice, signedRequest } from '../helpers/service-client.js';
import { familyCpuSeconds } from './processes.js';
import { median, percentile } from './stats.js';

// The in-process admin commands (create-key, revoke-key) read the version the build inlines.
(globalThis as { __SEKUIRE_VERSION__?: string }).__SEKUIRE_VERSION__ = 'bench';

const QUICK = process.env.BENCH_QUICK === '1';
const CONNECTIONS = 32;
const SECONDS = QUICK ? 3 : 10;
const WARMUP_SECONDS = QUICK ? 1 : 2;
const ROUNDS = QUICK ? 1 : 3;
const REVOCATIONS = QUICK ? 5 : 30;
/** Proofs signed before a run, per second of it: more than a run answers here. */
const PRESIGN_RATE = 6_000;
const SERVICE_URL = 'https://deploy.acme.example/deploy?env=prod';
const BARE = resolve(import.meta.dirname, 'bare-server.mjs');

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

interface Round {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly invalid: number;
  readonly cpuUsPerRequest: number;
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
async function load(target: Target, seconds: number, check: boolean): Promise<Round> {
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
    connections: CONNECTIONS,
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

async function verifyTarget(label: string, server: TestServer): Promise<Target> {
  const verifyKey = (await server.createKey({ org: 'Acme', type: 'server', permissions: ['verify'] })).key;
  const clients: Client[] = [];
  for (let i = 0; i < 8; i++) {
    const fingerprint = i.toString(16).padStart(2, '0').repeat(32);
    const { key } = await server.createKey({ email: `dev${i}@acme.example`, org: 'Acme' });
    clients.push({ key, fingerprint, device: await bindDevice(server.url, key, fingerprint) });
  }
  return { label, url: server.url, pid: server.pid, verify: { verifyKey, clients } };
}

function startBare(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BARE, '200'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = /^Listening on (\S+)$/m.exec(out);
      if (match?.[1] !== undefined) resolvePromise({ child, url: match[1] });
    });
    child.once('exit', (code) => reject(new Error(`bare-server exited ${code}`)));
  });
}

/**
 * A service behind sekuire-verify, a client calling it in a loop; revoke-key runs (as an
 * operator would, a process of its own) and the time from its return to the first refused
 * answer is taken. Any answer accepted for a request sent after the return is a violation.
 */
async function revocationLatency(server: TestServer): Promise<{ ms: number[]; violations: number }> {
  const verifyKey = (await server.createKey({ org: 'Acme', type: 'server', permissions: ['verify'] })).key;
  const app = fastify();
  await app.register(sekuireVerify, { server: server.url, key: verifyKey });
  app.get('/deploys', async (request) => ({ by: request.sekuire?.user.email }));
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const url = new URL('/deploys', base);
  const ms: number[] = [];
  let violations = 0;
  try {
    for (let i = 0; i < REVOCATIONS; i++) {
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

function row(label: string, rounds: readonly Round[], bare: number): string {
  const rps = median(rounds.map((r) => r.rps));
  return [
    label.padEnd(34),
    `${Math.round(rps)} req/s`.padStart(12),
    `${(rps / bare).toFixed(3)} x bare`.padStart(14),
    `p50 ${median(rounds.map((r) => r.p50))} ms, p99 ${median(rounds.map((r) => r.p99))} ms`,
    `${median(rounds.map((r) => r.cpuUsPerRequest)).toFixed(0)} µs server CPU/request`,
    `non-2xx ${rounds.reduce((s, r) => s + r.non2xx, 0)}, errors ${rounds.reduce((s, r) => s + r.errors, 0)}`,
    `rounds ${rounds.map((r) => Math.round(r.rps)).join('/')}`,
  ].join('  ');
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const stops: (() => Promise<unknown>)[] = [];
  const cluster = await startCluster();
  try {
    const database = await createDatabase(cluster.adminUrl);
    stops.push(() => dropDatabase(cluster.adminUrl, database));
    // The request log off, as for the other throughput figures: on, each answer is a line the
    // bench process reads back (ops-bench measures what the log costs).
    const quiet = ['--log-level', 'silent'];
    const [sqlite, postgres] = await Promise.all([
      startServer({ args: quiet }),
      startServer({ database, args: quiet }),
    ]);
    stops.unshift(
      () => sqlite.stop(),
      () => postgres.stop(),
    );
    const bare = await startBare();
    stops.unshift(
      () =>
        new Promise((r) => {
          bare.child.once('exit', r);
          bare.child.kill('SIGTERM');
        }),
    );
    const onSqlite = await verifyTarget('/verify, SQLite', sqlite);
    const onPostgres = await verifyTarget('/verify, PostgreSQL', postgres);
    const targets: Target[] = [
      { label: 'bare node:http (GET, 200 B)', url: bare.url, pid: bare.child.pid as number },
      onSqlite,
      onPostgres,
      {
        label: 'signed /cli/status, SQLite',
        url: sqlite.url,
        pid: sqlite.pid,
        status: { clients: onSqlite.verify?.clients ?? [] },
      },
    ];
    const rounds = new Map<Target, Round[]>(targets.map((target) => [target, []]));
    // Rounds alternate between the targets, so a neighbour's load on this shared machine falls on all.
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        const warmup = await load(target, WARMUP_SECONDS, true);
        if (warmup.invalid > 0 || warmup.non2xx > 0) {
          throw new Error(
            `${target.label}: ${warmup.invalid} answers not valid, ${warmup.non2xx} not 2xx in the warmup`,
          );
        }
        rounds.get(target)?.push(await load(target, SECONDS, false));
      }
    }
    const bareRps = median((rounds.get(targets[0] as Target) ?? []).map((r) => r.rps));
    console.log(
      `verify bench ${startedAt.toISOString()}, Node ${process.version}, ${cpus().length} CPUs, load average at the end ${loadavg()
        .map((v) => v.toFixed(2))
        .join(
          ' ',
        )}; ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s (after ${WARMUP_SECONDS} s warmup), alternating, medians`,
    );
    for (const target of targets) console.log(row(target.label, rounds.get(target) ?? [], bareRps));
    for (const [label, server] of [
      ['SQLite', sqlite],
      ['PostgreSQL', postgres],
    ] as const) {
      const { ms, violations } = await revocationLatency(server);
      const sorted = [...ms].sort((a, b) => a - b);
      console.log(
        `revoke-key returns -> refused by a service behind sekuire-verify, ${label}: ${ms.length} revocations, median ${median(ms).toFixed(1)} ms, p99 ${percentile(sorted, 0.99).toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms; accepted after the return: ${violations}`,
      );
    }
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    await stopCluster(cluster);
  }
}

await main();
process.exit(0);
