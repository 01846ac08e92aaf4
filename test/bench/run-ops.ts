// `npm run bench:ops`: what the request log and the metrics cost a status request; ratios on stdout, JSON in bench-results/.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { opsBench } from './ops-bench.js';
import { Resources } from './processes.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SERVER_PATH = join(ROOT, 'packages/server/dist/server.js');
const RESULTS_DIR = join(ROOT, 'bench-results');
/** BENCH_QUICK=1: a smoke run of the bench itself; its figures are not the real ones. */
const QUICK = process.env.BENCH_QUICK === '1';
const SETTINGS = {
  rounds: QUICK ? 1 : Number(process.env.BENCH_ROUNDS ?? 5),
  connections: 32,
  durationSeconds: QUICK ? 2 : 10,
  warmupSeconds: QUICK ? 1 : 2,
  keys: 100,
};
const TARGETS = { log: 0.9, metrics: 0.97 };

function environmentWithoutSekuire(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SEKUIRE_')) env[name] = value;
  }
  return env;
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const resources = new Resources();
  const onSignal = () => {
    resources.killAllNow();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result: Awaited<ReturnType<typeof opsBench>>;
  try {
    result = await opsBench(resources, {
      ...SETTINGS,
      serverPath: SERVER_PATH,
      baseEnv: environmentWithoutSekuire(),
    });
  } finally {
    await resources.releaseAll();
  }
  const row = (name: string, variant: 'off' | 'control' | 'log' | 'metrics') =>
    `  ${name.padEnd(34)} ${result.medianRequestsPerSecond[variant].toFixed(0).padStart(7)} req/s, server CPU ${result.cpuMicrosPerRequest[variant].toFixed(1)} µs a request`;
  console.log(
    `sekuire-server operations overhead, ${startedAt.toISOString()}, ${cpus().length} CPUs, load ${loadavg()[0]?.toFixed(2)} at start`,
  );
  console.log(
    `GET /api/v1/cli/status, ${SETTINGS.keys} keys (unsigned), autocannon ${SETTINGS.connections} connections, ${SETTINGS.warmupSeconds} s warmup + ${SETTINGS.durationSeconds} s, ${SETTINGS.rounds} rounds in turning order, medians`,
  );
  console.log(row('both off', 'off'));
  console.log(row('both off again (control)', 'control'));
  console.log(row('log info, metrics off', 'log'));
  console.log(row('metrics on, log silent', 'metrics'));
  console.log(
    `  control / off: ${result.ratio.control.toFixed(3)} x (per-round pairs: ${result.pairedRatio.control.toFixed(3)} x; by server CPU a request: ${result.cpuRatio.control.toFixed(3)} x): the noise of this machine, this run`,
  );
  let met = 0;
  for (const variant of ['log', 'metrics'] as const) {
    const pass = result.ratio[variant] >= TARGETS[variant];
    if (pass) met += 1;
    console.log(
      `  ${variant} / off: ${result.ratio[variant].toFixed(3)} x (per-round pairs: ${result.pairedRatio[variant].toFixed(3)} x; by server CPU a request: ${result.cpuRatio[variant].toFixed(3)} x), target >= ${TARGETS[variant]} x: ${pass ? 'PASS' : 'MISS'}`,
    );
  }
  console.log(`  request log: ${result.logBytesPerRequest} bytes per request`);
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(
    RESULTS_DIR,
    `ops-${startedAt
      .toISOString()
      .replaceAll(':', '-')
      .replace(/\.\d+Z$/, 'Z')}.json`,
  );
  await writeFile(
    file,
    `${JSON.stringify({ startedAt, quick: QUICK, settings: SETTINGS, targets: TARGETS, result }, null, 2)}\n`,
  );
  console.log(`results: ${relative(process.cwd(), file)}`);
  return process.env.BENCH_STRICT === '1' && met < 2 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
