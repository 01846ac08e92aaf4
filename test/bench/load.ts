// HTTP load with autocannon: GET /api/v1/cli/status, each connection cycling through its own share of keys.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { sampleMemory } from './processes.js';
import type { Credential } from './seed.js';

export const STATUS_PATH = '/api/v1/cli/status';

export interface LoadOptions {
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
}

export interface LoadFigures {
  readonly requestsPerSecond: number;
  readonly requestsPerSecondStddev: number;
  readonly latencyMs: {
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
    readonly mean: number;
  };
  readonly totalRequests: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly statusCodes: Record<string, number>;
  readonly distinctKeys: number;
  readonly serverMemory: { readonly peakRssMb: number; readonly hwmMb: number; readonly samples: number };
  /** CPU used during the measured run, in % of one core: who is the bottleneck on a small machine. */
  readonly cpuPercent: { readonly server: number; readonly loadGenerator: number };
}

/** User + system CPU seconds of a process, from /proc/<pid>/stat (clock ticks of 1/100 s on Linux). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

const CLOCK_TICKS = 100;

interface StatusRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
}

function statusRequest(credential: Credential): StatusRequest {
  return {
    method: 'GET',
    path: STATUS_PATH,
    headers: { 'x-api-key': credential.key, 'x-sekuire-device': credential.fingerprint },
  };
}

/**
 * Connection i gets pool entries i, i + connections, …: every key is in use, no row is one hot
 * spot, and the request buffers are built once (no per-request setupRequest cost in the
 * load generator, which shares the CPUs with the server).
 */
function shares(pool: readonly Credential[], connections: number): StatusRequest[][] {
  const result: StatusRequest[][] = Array.from({ length: connections }, () => []);
  const total = Math.max(pool.length, connections);
  for (let i = 0; i < total; i++) {
    const credential = pool[i % pool.length];
    if (credential !== undefined) result[i % connections]?.push(statusRequest(credential));
  }
  return result;
}

async function once(baseUrl: string, pool: readonly Credential[], connections: number, duration: number) {
  const perConnection = shares(pool, connections);
  let next = 0;
  return autocannon({
    url: `${baseUrl}${STATUS_PATH}`,
    connections,
    duration,
    pipelining: 1,
    timeout: 10,
    setupClient: (client) => {
      client.setRequests(perConnection[next % connections] ?? []);
      next += 1;
    },
  });
}

/** A warmup run (discarded), then the measured run; serverPid's memory is sampled across both. */
export async function loadTest(
  baseUrl: string,
  serverPid: number,
  pool: readonly Credential[],
  options: LoadOptions,
): Promise<LoadFigures> {
  if (pool.length === 0) throw new Error('loadTest needs at least one credential');
  const memory = sampleMemory(serverPid, 500);
  let result: Awaited<ReturnType<typeof autocannon>>;
  let peak: ReturnType<typeof memory.stop>;
  let cpuPercent = { server: Number.NaN, loadGenerator: Number.NaN };
  try {
    if (options.warmupSeconds > 0) await once(baseUrl, pool, options.connections, options.warmupSeconds);
    const serverBefore = processCpuSeconds(serverPid);
    const generatorBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    result = await once(baseUrl, pool, options.connections, options.durationSeconds);
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    const generator = process.cpuUsage(generatorBefore);
    cpuPercent = {
      server: ((processCpuSeconds(serverPid) - serverBefore) / wall) * 100,
      loadGenerator: ((generator.user + generator.system) / 1e6 / wall) * 100,
    };
  } finally {
    peak = memory.stop();
  }
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats)) statusCodes[code] = stats.count;
  return {
    requestsPerSecond: result.requests.average,
    requestsPerSecondStddev: result.requests.stddev,
    latencyMs: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.average,
    },
    totalRequests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    distinctKeys: pool.length,
    serverMemory: { peakRssMb: peak.peakRssKb / 1024, hwmMb: peak.hwmKb / 1024, samples: peak.samples },
    cpuPercent,
  };
}
