// `npx tsx test/bench/proxy-bench.ts`: status throughput behind nginx (TLS there) against the instances directly.
// Needs `npm run build`, nginx and PostgreSQL (bash scripts/test-deps.sh). Prints a table; changes nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { type Nginx, startNginx } from '../helpers/nginx.js';
import { createDatabase, dropDatabase, startCluster, stopCluster } from '../helpers/postgres.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { selfSignedCert } from '../helpers/tls.js';
import { familyCpuSeconds } from './processes.js';
import { median } from './stats.js';

const QUICK = process.env.BENCH_QUICK === '1';
const CONNECTIONS = 32;
const SECONDS = QUICK ? 3 : 10;
const WARMUP_SECONDS = QUICK ? 1 : 2;
const ROUNDS = QUICK ? 1 : 3;

interface Target {
  readonly label: string;
  readonly url: string;
  /** The processes serving it (instances, nginx master: its workers are counted with it). */
  readonly pids: readonly number[];
}

interface Round {
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  /** CPU of the serving processes, in % of one core. */
  readonly cpuPercent: number;
  /** CPU of autocannon (this process), which shares the machine with them. */
  readonly generatorCpuPercent: number;
}

function cpuSeconds(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) for (const seconds of familyCpuSeconds(pid).values()) total += seconds;
  return total;
}

/** A status with a server key (never bound, no proof): the cheapest answer, so what a proxy adds shows most. */
async function load(target: Target, key: string, seconds: number): Promise<Round> {
  const before = cpuSeconds(target.pids);
  const generatorBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const result = await autocannon({
    url: `${target.url}/api/v1/cli/status`,
    // A server key is never bound: any fingerprint is answered (the CLI always sends one).
    headers: { 'x-api-key': key, 'x-sekuire-device': 'e'.repeat(64) },
    connections: CONNECTIONS,
    duration: seconds,
    pipelining: 1,
    timeout: 10,
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const generator = process.cpuUsage(generatorBefore);
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    cpuPercent: ((cpuSeconds(target.pids) - before) / wall) * 100,
    generatorCpuPercent: ((generator.user + generator.system) / 1e6 / wall) * 100,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-proxy-bench-'));
  const cluster = await startCluster();
  const stops: (() => Promise<void>)[] = [];
  try {
    const database = await createDatabase(cluster.adminUrl);
    stops.push(() => dropDatabase(cluster.adminUrl, database));
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, `${'5e'.repeat(32)}\n`, { mode: 0o600 });
    const pair = selfSignedCert(dir, ['127.0.0.1']);
    const serve = async (options: Parameters<typeof startServer>[0]): Promise<TestServer> => {
      const server = await startServer({ database, secretFile, ...options });
      stops.unshift(() => server.stop());
      return server;
    };
    const trust = { args: ['--trust-proxy', '127.0.0.1'] };
    const [a, b, tls] = await Promise.all([serve(trust), serve(trust), serve({ tls: pair })]);
    const front = async (servers: readonly TestServer[]): Promise<Nginx> => {
      const nginx = await startNginx({
        upstreams: servers.map((server) => new URL(server.url).host),
        cert: pair.cert,
        key: pair.key,
      });
      stops.unshift(() => nginx.stop());
      return nginx;
    };
    const [both, one] = await Promise.all([front([a, b]), front([a])]);
    const { key } = await a.createKey({ type: 'server' });
    const targets: Target[] = [
      { label: 'direct, http, 1 instance', url: a.url, pids: [a.pid] },
      { label: 'direct, https (--tls-cert), 1 instance', url: tls.url, pids: [tls.pid] },
      { label: 'nginx https -> 1 instance', url: one.url, pids: [one.pid, a.pid] },
      { label: 'nginx https -> 2 instances', url: both.url, pids: [both.pid, a.pid, b.pid] },
    ];
    const rounds = new Map<Target, Round[]>(targets.map((target) => [target, []]));
    // Rounds alternate between the targets, so a neighbour's load on this shared machine falls on all.
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        await load(target, key, WARMUP_SECONDS);
        rounds.get(target)?.push(await load(target, key, SECONDS));
      }
    }
    console.log(
      `${cpus().length} CPUs, load average at the end ${loadavg()
        .map((value) => value.toFixed(2))
        .join(' ')}; ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s, medians`,
    );
    const direct = median((rounds.get(targets[0] as Target) ?? []).map((r) => r.requestsPerSecond));
    for (const target of targets) {
      const all = rounds.get(target) ?? [];
      const rps = median(all.map((r) => r.requestsPerSecond));
      console.log(
        [
          target.label.padEnd(40),
          `${Math.round(rps)} req/s`.padStart(12),
          `(${((rps / direct) * 100).toFixed(0)}% of direct http)`.padStart(24),
          `p50 ${median(all.map((r) => r.p50))} ms, p99 ${median(all.map((r) => r.p99))} ms`,
          `CPU ${median(all.map((r) => r.cpuPercent)).toFixed(0)}% (autocannon ${median(all.map((r) => r.generatorCpuPercent)).toFixed(0)}%)`,
          // On a shared machine the CPU a run gets varies; what each answer costs varies less.
          `${median(all.map((r) => (r.cpuPercent / 100 / r.requestsPerSecond) * 1e6)).toFixed(0)} µs CPU/request`,
          `non-2xx ${all.reduce((sum, r) => sum + r.non2xx, 0)}, errors ${all.reduce((sum, r) => sum + r.errors, 0)}`,
          `rounds ${all.map((r) => Math.round(r.requestsPerSecond)).join('/')}`,
        ].join('  '),
      );
    }
  } finally {
    for (const stop of stops) await stop();
    await stopCluster(cluster);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
