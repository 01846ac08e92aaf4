// Server throughput: bare node:http baseline, then the reference server with 100 and with 100,000 keys.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type LoadFigures, type LoadOptions, loadTest, STATUS_PATH } from './load.js';
import type { Resources, Server } from './processes.js';
import { type Credential, countTouched, type SeedResult, seedDatabase } from './seed.js';

export interface ServerBenchOptions extends LoadOptions {
  readonly serverPath: string;
  readonly barePath: string;
  readonly smallKeys: number;
  readonly largeKeys: number;
  /** Keys in rotation for the targets, spread over the whole table: the same on both databases. */
  readonly rotation: number;
  /** Keys in rotation for an extra, informational run on the large database. */
  readonly wideRotation: number;
  readonly baseEnv: NodeJS.ProcessEnv;
}

export interface LoadRun {
  /** Distinct keys the connections cycled through. */
  readonly rotation: number;
  readonly load: LoadFigures;
}

export interface SeededServer {
  readonly seed: Omit<SeedResult, 'pool'>;
  /** The target run first, then any informational ones, against the same server process. */
  readonly runs: LoadRun[];
  /** Devices whose last_seen_at the runs updated (0: the runs measured reads only). */
  readonly touchedDevices: number;
}

export interface ServerBenchResult {
  readonly responseBytes: number;
  readonly bare: LoadRun;
  readonly small: SeededServer;
  readonly large: SeededServer;
}

interface Probe {
  readonly status: number;
  readonly bytes: number;
  readonly body: string;
}

async function probe(baseUrl: string, credential: Credential): Promise<Probe> {
  const response = await fetch(`${baseUrl}${STATUS_PATH}`, {
    headers: { 'x-api-key': credential.key, 'x-sekuire-device': credential.fingerprint },
  });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, bytes: body.length, body: body.toString('utf8') };
}

/** The real answer must be a 200 naming the bound device, or the load would measure errors. */
async function checkedProbe(server: Server, credential: Credential): Promise<Probe> {
  const answer = await probe(server.url, credential);
  const parsed = JSON.parse(answer.body) as { device?: unknown };
  if (answer.status !== 200 || parsed.device === null || parsed.device === undefined) {
    throw new Error(`${server.label}: status probe answered ${answer.status}: ${answer.body}`);
  }
  return answer;
}

/** `count` credentials spread evenly over `pool`. */
function spread(pool: readonly Credential[], count: number): Credential[] {
  const step = Math.max(1, Math.floor(pool.length / count));
  return pool.filter((_, index) => index % step === 0).slice(0, count);
}

function log(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

function describe(label: string, load: LoadFigures): string {
  return `${label}: ${load.requestsPerSecond.toFixed(0)} req/s, p99 ${load.latencyMs.p99} ms, errors ${load.errors}, non2xx ${load.non2xx}, peak RSS ${load.serverMemory.hwmMb.toFixed(1)} MB, CPU server ${load.cpuPercent.server.toFixed(0)} % / autocannon ${load.cpuPercent.loadGenerator.toFixed(0)} %`;
}

export async function serverBench(
  resources: Resources,
  options: ServerBenchOptions,
): Promise<ServerBenchResult> {
  const dir = await resources.tempDir('sekuire-bench-server-');
  try {
    // The same secret for the seeding code and the server, so the seeded digests match.
    const secretHex = randomBytes(32).toString('hex');
    const secret = Buffer.from(secretHex, 'hex');
    const env = { ...options.baseEnv, SEKUIRE_SERVER_SECRET: secretHex };

    const measure = async (label: string, server: Server, pool: Credential[]): Promise<LoadRun> => {
      log(`load: ${label}, ${pool.length} keys in rotation...`);
      const load = await loadTest(server.url, server.pid, pool, options);
      log(describe(label, load));
      return { rotation: pool.length, load };
    };

    /** Seeds a database, starts the server on it, and hands both to `body`. */
    const withSeededServer = async (
      keys: number,
      poolSize: number,
      body: (server: Server, pool: Credential[]) => Promise<LoadRun[]>,
    ): Promise<SeededServer> => {
      const db = join(dir, `keys-${keys}.db`);
      const seededAt = new Date();
      log(`seeding ${keys} keys, each bound to a device...`);
      const { pool, ...seed } = await seedDatabase(db, secret, keys, poolSize, seededAt);
      log(`seeded ${keys} keys in ${seed.seconds.toFixed(2)} s`);
      const server = await resources.startServer(
        `sekuire-server (${keys} keys)`,
        [options.serverPath, 'start', '--host', '127.0.0.1', '--port', '0', '--db', db],
        env,
      );
      let runs: LoadRun[];
      try {
        const first = pool[0];
        if (first === undefined) throw new Error('the seeding returned no key');
        await checkedProbe(server, first);
        runs = await body(server, pool);
      } finally {
        await resources.stop(server.child);
      }
      return { seed, runs, touchedDevices: await countTouched(db, seededAt) };
    };

    let responseBytes = 0;
    let bare: LoadRun | undefined;
    const small = await withSeededServer(options.smallKeys, options.rotation, async (server, pool) => {
      const rotation = spread(pool, options.rotation);
      const first = rotation[0] as Credential;
      responseBytes = (await checkedProbe(server, first)).bytes;
      // The baseline runs while this server idles, under the same load generator settings.
      const bareServer = await resources.startServer(
        'bare node:http',
        [options.barePath, String(responseBytes)],
        env,
      );
      try {
        const answer = await probe(bareServer.url, first);
        if (answer.status !== 200 || answer.bytes !== responseBytes) {
          throw new Error(`bare server answered ${answer.status} with ${answer.bytes} bytes`);
        }
        bare = await measure(`bare node:http, ${responseBytes}-byte body`, bareServer, rotation);
      } finally {
        await resources.stop(bareServer.child);
      }
      return [await measure(`reference server, ${options.smallKeys} keys`, server, rotation)];
    });
    const large = await withSeededServer(options.largeKeys, options.wideRotation, async (server, pool) => [
      await measure(`reference server, ${options.largeKeys} keys`, server, spread(pool, options.rotation)),
      await measure(`reference server, ${options.largeKeys} keys`, server, pool),
    ]);
    if (bare === undefined) throw new Error('the baseline did not run');
    return { responseBytes, bare, small, large };
  } finally {
    await resources.removeDir(dir);
  }
}
