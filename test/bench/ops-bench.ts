// The ops section of `npm run bench` (BENCH_SECTIONS=ops): status throughput with the request log at info (metrics off) and with metrics on (log silent), each against both off.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type LoadFigures, type LoadOptions, loadTest, STATUS_PATH, statusHeaders } from './load.js';
import { type Resources, type Server, startArgs } from './processes.js';
import { type Credential, seedDatabase } from './seed.js';
import { median } from './stats.js';

export interface OpsBenchOptions extends LoadOptions {
  /** Rounds of the four servers, one after another in each, a new process each; medians are quoted. */
  readonly rounds: number;
  readonly serverPath: string;
  /** Keys per database, all in rotation (legacy bindings: unsigned requests, as the server bench's small run). */
  readonly keys: number;
  readonly baseEnv: NodeJS.ProcessEnv;
}

export type OpsVariant = 'off' | 'control' | 'log' | 'metrics';

/** The flags each server starts with: only the thing measured differs. */
export const OPS_VARIANTS: Readonly<
  Record<OpsVariant, { readonly label: string; readonly args: readonly string[] }>
> = {
  off: { label: 'log silent, metrics off', args: ['--log-level', 'silent'] },
  // The same as off: how far apart two identical servers measure on this machine, this run.
  control: { label: 'log silent, metrics off (control)', args: ['--log-level', 'silent'] },
  log: {
    label: 'log info (stderr, a pipe read by a cat of its own), metrics off',
    args: ['--log-level', 'info'],
  },
  metrics: { label: 'log silent, --metrics', args: ['--log-level', 'silent', '--metrics'] },
};

export interface OpsBenchResult {
  readonly rounds: Readonly<Record<OpsVariant, readonly LoadFigures[]>>;
  /** Median req/s per variant. */
  readonly medianRequestsPerSecond: Readonly<Record<OpsVariant, number>>;
  /** median(variant) / median(off); control's is the noise floor (1 on a quiet machine). */
  readonly ratio: { readonly control: number; readonly log: number; readonly metrics: number };
  /** The median of the per-round ratios (each round's variant against that round's off run). */
  readonly pairedRatio: { readonly control: number; readonly log: number; readonly metrics: number };
  /**
   * Median server CPU per request, in µs: on a machine shared with other work the req/s of a
   * round depend on who else ran; the CPU a request costs the server much less so.
   */
  readonly cpuMicrosPerRequest: Readonly<Record<OpsVariant, number>>;
  /** median(off) / median(variant) of cpuMicrosPerRequest: the throughput ratio of a CPU-bound server. */
  readonly cpuRatio: { readonly control: number; readonly log: number; readonly metrics: number };
  /** Bytes of request log the log server wrote per request (from its log file, over one probe). */
  readonly logBytesPerRequest: number;
}

/** Server CPU time per answered request, in µs. */
function cpuMicros(load: LoadFigures): number {
  return (load.cpuPercent.server / 100 / load.requestsPerSecond) * 1e6;
}

function log(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

/** One status request that must answer 200: the load must not measure refusals. */
async function probe(server: Server, credential: Credential): Promise<void> {
  const response = await fetch(`${server.url}${STATUS_PATH}`, {
    headers: statusHeaders(credential, server.url),
  });
  const body = await response.text();
  if (response.status !== 200)
    throw new Error(`${server.label}: status answered ${response.status}: ${body}`);
}

/**
 * The server of one variant, started for one round and stopped after it. A process per round,
 * not one per run: on 2 vCPUs a process settles early into one of two states and keeps it for
 * its life (measured 2026-12-07: 1 to 2 of 6 log servers answered ~7 µs a request slower
 * throughout, the difference in the kernel's writev and epoll, not in the server's code), so one
 * process's draw must not decide every round of its variant. The log server's standard error
 * goes through a pipe to a `cat` writing a file: a collector in a process of its own, as
 * journald or a container runtime is, not in the bench's event loop, which runs the load.
 */
async function startVariant(
  resources: Resources,
  variant: OpsVariant,
  db: string,
  logFile: string,
  options: OpsBenchOptions,
  env: NodeJS.ProcessEnv,
  credential: Credential,
): Promise<Server> {
  const server = await resources.startServer(
    `sekuire-server, ${OPS_VARIANTS[variant].label}`,
    startArgs(options.serverPath, db, ...OPS_VARIANTS[variant].args),
    env,
    variant === 'log' ? { logFile } : {},
  );
  await probe(server, credential);
  return server;
}

/** The size of the log file once nothing more arrives for 50 ms (a line is written within 10 ms of its answer). */
async function settledLogBytes(server: Server): Promise<number> {
  let last = -1;
  for (let waited = 0; server.stderrBytes() !== last && waited < 2_000; waited += 50) {
    last = server.stderrBytes();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return last;
}

/** Bytes of log one answered status request adds, read from the file the log server's collector writes. */
async function logBytesOfOneRequest(server: Server, credential: Credential): Promise<number> {
  // The line of startVariant's probe may still be on its way.
  const before = await settledLogBytes(server);
  await probe(server, credential);
  const bytes = (await settledLogBytes(server)) - before;
  if (bytes <= 0) throw new Error('the log server wrote no request line at info');
  return bytes;
}

export async function opsBench(resources: Resources, options: OpsBenchOptions): Promise<OpsBenchResult> {
  const dir = await resources.tempDir('sekuire-bench-ops-');
  const secretHex = randomBytes(32).toString('hex');
  const env = { ...options.baseEnv, SEKUIRE_SERVER_SECRET: secretHex };
  const variants = Object.keys(OPS_VARIANTS) as OpsVariant[];
  const seeded = new Map<OpsVariant, { db: string; pool: Credential[]; first: Credential }>();
  const logFile = join(dir, 'log.jsonl');
  try {
    for (const variant of variants) {
      // A database each: the servers never share a file, a cache or a write.
      const db = join(dir, `${variant}.db`);
      const { pool } = await seedDatabase(db, Buffer.from(secretHex, 'hex'), options.keys, options.keys);
      const first = pool[0];
      if (first === undefined) throw new Error('the seeding returned no key');
      seeded.set(variant, { db, pool, first });
    }
    let logBytesPerRequest = 0;
    const rounds: Record<OpsVariant, LoadFigures[]> = { off: [], control: [], log: [], metrics: [] };
    for (let round = 1; round <= options.rounds; round++) {
      // The order turns each round, so neither variant always runs right after the other.
      const order = variants.map((_, index) => variants[(index + round - 1) % variants.length] as OpsVariant);
      for (const variant of order) {
        const { db, pool, first } = seeded.get(variant) as {
          db: string;
          pool: Credential[];
          first: Credential;
        };
        const server = await startVariant(resources, variant, db, logFile, options, env, first);
        try {
          if (variant === 'log' && logBytesPerRequest === 0) {
            logBytesPerRequest = await logBytesOfOneRequest(server, first);
          }
          log(
            `load: ${OPS_VARIANTS[variant].label} (round ${round}/${options.rounds}, pid ${server.pid})...`,
          );
          const load = await loadTest(server.url, server.pid, pool, options);
          if (load.errors + load.non2xx > 0) {
            throw new Error(
              `${server.label}: ${load.errors} errors, ${load.non2xx} non-2xx answers under load`,
            );
          }
          log(
            `${load.requestsPerSecond.toFixed(0)} req/s, p99 ${load.latencyMs.p99} ms, CPU server ${load.cpuPercent.server.toFixed(0)} % (${cpuMicros(load).toFixed(1)} µs a request)`,
          );
          rounds[variant].push(load);
        } finally {
          await resources.stop(server.child);
        }
      }
    }
    const perSecond = (variant: OpsVariant) => rounds[variant].map((load) => load.requestsPerSecond);
    const medians = {
      off: median(perSecond('off')),
      control: median(perSecond('control')),
      log: median(perSecond('log')),
      metrics: median(perSecond('metrics')),
    };
    const cpu = (variant: OpsVariant) => median(rounds[variant].map(cpuMicros));
    const cpuMicrosPerRequest = {
      off: cpu('off'),
      control: cpu('control'),
      log: cpu('log'),
      metrics: cpu('metrics'),
    };
    const paired = (variant: OpsVariant) =>
      median(perSecond(variant).map((value, index) => value / (perSecond('off')[index] ?? Number.NaN)));
    return {
      rounds,
      medianRequestsPerSecond: medians,
      ratio: {
        control: medians.control / medians.off,
        log: medians.log / medians.off,
        metrics: medians.metrics / medians.off,
      },
      pairedRatio: { control: paired('control'), log: paired('log'), metrics: paired('metrics') },
      cpuMicrosPerRequest,
      cpuRatio: {
        control: cpuMicrosPerRequest.off / cpuMicrosPerRequest.control,
        log: cpuMicrosPerRequest.off / cpuMicrosPerRequest.log,
        metrics: cpuMicrosPerRequest.off / cpuMicrosPerRequest.metrics,
      },
      logBytesPerRequest,
    };
  } finally {
    await resources.removeDir(dir);
  }
}
