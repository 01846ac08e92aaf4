// HTTP load with autocannon: GET /api/v1/cli/status, each connection cycling through its own share of keys; or one fixed request (loadFixed).
import autocannon, { type Request } from 'autocannon';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import { proofHeaders } from '../../packages/cli/src/core/proof.js';
import { processCpuSeconds, sampleMemory } from './processes.js';
import type { Credential } from './seed.js';

export const STATUS_PATH = '/api/v1/cli/status';

/**
 * The headers of one status request with this credential to the server at `baseUrl`: with a new
 * proof (signed for that server's authority) when its binding holds a device key.
 */
export function statusHeaders(credential: Credential, baseUrl: string): Record<string, string> {
  const key = credential.deviceKey;
  return key === undefined
    ? plainHeaders(credential)
    : { ...plainHeaders(credential), ...proof(key, baseUrl) };
}

function plainHeaders(credential: Credential): Record<string, string> {
  return { 'x-api-key': credential.key, 'x-sekuire-device': credential.fingerprint };
}

function proof(key: DeviceKey, baseUrl: string): Record<string, string> {
  return proofHeaders(key, 'GET', new URL(STATUS_PATH, baseUrl), undefined, Date.now() / 1000);
}

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
  /** Whether each request carried a proof of its own. */
  readonly signedRequests: boolean;
  /** Signed runs: proofs made before the load, and those made during it when a queue ran dry. */
  readonly proofs?: { readonly presigned: number; readonly signedDuringRun: number };
  /**
   * CPU used during the measured run, in % of one core: who is the bottleneck on a small machine.
   * database: the PostgreSQL cluster's processes (the server's backends), when it is measured.
   */
  readonly cpuPercent: {
    readonly server: number;
    readonly loadGenerator: number;
    readonly database?: number;
  };
}

/**
 * Proofs made before the load starts, per credential, used once each in the order made. The
 * server's throughput is what is measured: signing (~45 µs each) inside the load generator
 * would take one of the two cores from the server it measures, as building requests would for
 * unsigned runs (which are built once for that reason). Each proof is still new to the server,
 * dated when it was made (seconds before it is sent, well within the 300 s window), and the
 * queues are filled in turn, so proofs are sent in about the order they were made (the server's
 * bounded replay cache forgets the earliest-made first).
 */
export class Presigned {
  private readonly queues = new Map<Credential, Record<string, string>[]>();
  private readonly used = new Map<Credential, number>();
  /** Proofs that had to be made during the run because a queue ran dry. */
  signedDuringRun = 0;
  readonly made: number;

  constructor(
    pool: readonly Credential[],
    total: number,
    private readonly baseUrl: string,
  ) {
    const signed = pool.filter((credential) => credential.deviceKey !== undefined);
    const perCredential = signed.length === 0 ? 0 : Math.ceil(total / signed.length);
    for (const credential of signed) this.queues.set(credential, []);
    for (let round = 0; round < perCredential; round++) {
      for (const credential of signed)
        this.queues.get(credential)?.push(proof(credential.deviceKey as DeviceKey, baseUrl));
    }
    this.made = perCredential * signed.length;
  }

  next(credential: Credential): Record<string, string> {
    const queue = this.queues.get(credential);
    const index = this.used.get(credential) ?? 0;
    const headers = queue?.[index];
    if (queue === undefined || headers === undefined) {
      this.signedDuringRun += 1;
      return proof(credential.deviceKey as DeviceKey, this.baseUrl);
    }
    this.used.set(credential, index + 1);
    queue[index] = {};
    return headers;
  }
}

/** More than any signed run reaches here: a queue that runs dry is signed on the fly (and reported). */
const PRESIGN_RATE = 25_000;

/**
 * An unsigned request is built once and replayed as is. A signed one cannot be: the server
 * refuses a proof it has seen. autocannon calls setupRequest before each send and rebuilds the
 * bytes from what it returns, so every request carries a proof of its own (see Presigned).
 */
function statusRequest(credential: Credential, presigned: Presigned | undefined): Request {
  const request: Request = { method: 'GET', path: STATUS_PATH, headers: plainHeaders(credential) };
  if (credential.deviceKey === undefined || presigned === undefined) return request;
  return {
    ...request,
    setupRequest: (built) => ({ ...built, headers: { ...built.headers, ...presigned.next(credential) } }),
  };
}

/**
 * Connection i gets pool entries i, i + connections, …: every key is in use, no row is one hot
 * spot, and unsigned request buffers are built once (no per-request setupRequest cost in the
 * load generator, which shares the CPUs with the server); signed ones are built per request.
 */
function shares(
  pool: readonly Credential[],
  connections: number,
  presigned: Presigned | undefined,
): Request[][] {
  const result: Request[][] = Array.from({ length: connections }, () => []);
  const total = Math.max(pool.length, connections);
  for (let i = 0; i < total; i++) {
    const credential = pool[i % pool.length];
    if (credential !== undefined) result[i % connections]?.push(statusRequest(credential, presigned));
  }
  return result;
}

async function once(
  baseUrl: string,
  path: string,
  perConnection: readonly Request[][],
  connections: number,
  duration: number,
) {
  let next = 0;
  return autocannon({
    url: `${baseUrl}${path}`,
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

type Result = Awaited<ReturnType<typeof autocannon>>;

/**
 * A warmup run (discarded), then the measured run (`run(seconds)` makes one autocannon run);
 * serverPid's memory is sampled across both, and the CPU of the server, of this process and of
 * the database during the measured one.
 */
async function measured(
  serverPid: number,
  options: LoadOptions,
  databaseCpu: (() => () => number) | undefined,
  run: (seconds: number) => Promise<Result>,
): Promise<{
  result: Result;
  peak: ReturnType<ReturnType<typeof sampleMemory>['stop']>;
  cpuPercent: LoadFigures['cpuPercent'];
}> {
  const memory = sampleMemory(serverPid, 500);
  let result: Result;
  let peak: ReturnType<typeof memory.stop>;
  let cpuPercent: LoadFigures['cpuPercent'] = { server: Number.NaN, loadGenerator: Number.NaN };
  try {
    if (options.warmupSeconds > 0) await run(options.warmupSeconds);
    const serverBefore = processCpuSeconds(serverPid);
    const generatorBefore = process.cpuUsage();
    const database = databaseCpu?.();
    const started = process.hrtime.bigint();
    result = await run(options.durationSeconds);
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    const generator = process.cpuUsage(generatorBefore);
    const databaseSeconds = database?.();
    cpuPercent = {
      server: ((processCpuSeconds(serverPid) - serverBefore) / wall) * 100,
      loadGenerator: ((generator.user + generator.system) / 1e6 / wall) * 100,
      ...(databaseSeconds !== undefined && { database: (databaseSeconds / wall) * 100 }),
    };
  } finally {
    peak = memory.stop();
  }
  return { result, peak, cpuPercent };
}

function figures(
  { result, peak, cpuPercent }: Awaited<ReturnType<typeof measured>>,
  distinctKeys: number,
  presigned: Presigned | undefined,
): LoadFigures {
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
    distinctKeys,
    signedRequests: presigned !== undefined,
    ...(presigned !== undefined && {
      proofs: { presigned: presigned.made, signedDuringRun: presigned.signedDuringRun },
    }),
    serverMemory: { peakRssMb: peak.peakRssKb / 1024, hwmMb: peak.hwmKb / 1024, samples: peak.samples },
    cpuPercent,
  };
}

/** A warmup run (discarded), then the measured run; serverPid's memory is sampled across both. */
export async function loadTest(
  baseUrl: string,
  serverPid: number,
  pool: readonly Credential[],
  options: LoadOptions,
  /** Starts counting the database's CPU; what it returns gives the seconds used since (clusterCpu). */
  databaseCpu?: () => () => number,
): Promise<LoadFigures> {
  if (pool.length === 0) throw new Error('loadTest needs at least one credential');
  const signed = pool.some((credential) => credential.deviceKey !== undefined);
  // Made before the memory of the server is sampled or any time is taken.
  const presigned = signed
    ? new Presigned(pool, PRESIGN_RATE * (options.warmupSeconds + options.durationSeconds), baseUrl)
    : undefined;
  const run = await measured(serverPid, options, databaseCpu, (seconds) =>
    once(baseUrl, STATUS_PATH, shares(pool, options.connections, presigned), options.connections, seconds),
  );
  return figures(run, pool.length, presigned);
}

/** One GET request, as the same bytes on every connection, again and again. */
export interface FixedRequest {
  readonly path: string;
  readonly headers: Record<string, string>;
}

/** loadTest for one fixed request (a signed-in person's page or list): no keys in rotation. */
export async function loadFixed(
  baseUrl: string,
  serverPid: number,
  request: FixedRequest,
  options: LoadOptions,
  databaseCpu?: () => () => number,
): Promise<LoadFigures> {
  const perConnection = Array.from({ length: options.connections }, () => [
    { method: 'GET', path: request.path, headers: request.headers },
  ]);
  const run = await measured(serverPid, options, databaseCpu, (seconds) =>
    once(baseUrl, request.path, perConnection, options.connections, seconds),
  );
  return figures(run, 1, undefined);
}
