// `npm run bench`: CLI start-up and server load against same-run baselines; table on stdout, JSON in bench-results/.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { type Cluster, SKIP_VARIABLE, startCluster, stopCluster } from '../helpers/postgres.js';
import { type CliBenchResult, cliBench } from './cli-bench.js';
import { type DashboardBenchResult, dashboardBench } from './dashboard-bench.js';
import { Resources } from './processes.js';
import { cliRows, dashboardRows, type Row, serverRows, textTable } from './report.js';
import { type ServerBenchResult, serverBench } from './server-bench.js';
import { type Bins, snapshotDist } from './snapshot.js';
import { hyperfineTimer, loopTimer, type Timer } from './timing.js';
import { ensureTool, helpMentions, type Tool, toolVersion } from './tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist');
const RESULTS_DIR = join(ROOT, 'bench-results');
const BARE_PATH = join(import.meta.dirname, 'bare-server.mjs');

/** BENCH_QUICK=1: a fast smoke run of the bench itself; its figures are not the real ones. BENCH_STRICT=1: exit 1 on a MISS. */
const QUICK = process.env.BENCH_QUICK === '1';
const SETTINGS = {
  warmup: QUICK ? 1 : 3,
  runs: QUICK ? 5 : 30,
  rssRuns: QUICK ? 3 : 10,
  connections: 32,
  durationSeconds: QUICK ? 3 : 10,
  warmupSeconds: QUICK ? 1 : 2,
  smallKeys: 100,
  largeKeys: 100_000,
  rotation: 100,
  wideRotation: 10_000,
  rounds: QUICK ? 1 : 3,
  revocations: QUICK ? 10 : 50,
  /** Issue 11: one organization's keys, listed and paged by its owner, at this many connections. */
  dashboardKeys: 1_000,
  dashboardConnections: 8,
  /** Sign-ins timed per kind (right, wrong password), one at a time; refused ones; a burst of clients at once. */
  signInAttempts: QUICK ? 3 : 12,
  refusedSignIns: QUICK ? 20 : 50,
  signInStreams: QUICK ? 2 : 4,
  signInsPerStream: QUICK ? 2 : 3,
  scryptRuns: QUICK ? 3 : 10,
};

/** The two bins from package.json, as paths inside dist/ (e.g. cli.cjs, server.js). */
function binsInDist(): Bins {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    bin?: Record<string, string>;
  };
  const inDist = (name: string): string => {
    const path = pkg.bin?.[name];
    if (path === undefined) throw new Error(`package.json has no bin "${name}"`);
    const inside = relative(DIST, join(ROOT, path));
    if (inside.startsWith('..')) throw new Error(`bin "${name}" (${path}) is not in dist/`);
    return inside;
  };
  return { cli: inDist('sekuire'), server: inDist('sekuire-server') };
}

function environmentWithoutSekuire(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SEKUIRE_')) env[name] = value;
  }
  return env;
}

function machineFacts() {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model ?? 'unknown',
    cpuCount: cpuList.length,
    totalMemoryGb: Number((totalmem() / 1024 ** 3).toFixed(1)),
    node: process.version,
    platform: `${process.platform} ${release()} ${process.arch}`,
    loadAverageAtStart: loadavg().map((value) => Number(value.toFixed(2))),
  };
}

async function section<T>(name: string, errors: string[], fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    errors.push(`${name}: ${message}`);
    process.stderr.write(`bench: ${name} failed: ${message}\n`);
    return undefined;
  }
}

async function main(): Promise<number> {
  const bins = binsInDist();
  const startedAt = new Date();
  const machine = machineFacts();
  const notes: string[] = [];
  const [load1 = 0] = machine.loadAverageAtStart;
  if (load1 > 0.5 * machine.cpuCount) {
    notes.push(`load average ${load1} at start: other work on this machine may skew the figures`);
  }
  if (QUICK) notes.push('BENCH_QUICK=1: shortened runs, figures for checking the bench only');
  if (machine.cpuCount <= 2) {
    notes.push(
      `${machine.cpuCount} CPUs: autocannon shares them with the server, as it does with the bare baseline, so the ratio is fair but the absolute req/s are low`,
    );
  }

  // BENCH_TIMER=loop skips hyperfine, to check the fallback timing loop.
  const hyperfine: Tool =
    process.env.BENCH_TIMER === 'loop'
      ? { path: undefined, note: 'skipped: BENCH_TIMER=loop' }
      : ensureTool('hyperfine', 'hyperfine');
  const gnuTime = ensureTool('time', 'time', '/usr/bin/time');
  const hyperfineVersion = hyperfine.path === undefined ? undefined : toolVersion(hyperfine.path);
  const timerHasInput = hyperfine.path !== undefined && helpMentions(hyperfine.path, '--input');
  if (hyperfine.path === undefined) {
    notes.push(
      `hyperfine unavailable (${hyperfine.note}): timed with the bench's own loop (same warmups, runs and statistics)`,
    );
  }
  if (gnuTime.path === undefined)
    notes.push(`GNU time unavailable (${gnuTime.note}): status RSS not measured`);
  for (const note of notes) process.stderr.write(`bench: note: ${note}\n`);

  const resources = new Resources();
  const onSignal = (signal: NodeJS.Signals) => {
    resources.killAllNow();
    process.stderr.write(`bench: ${signal}, child processes killed\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  await mkdir(RESULTS_DIR, { recursive: true });
  // The bench runs a copy of dist/ taken now: the build it measures stays put for the whole run.
  const snapshot = join(RESULTS_DIR, `.dist-${process.pid}`);
  resources.adoptDir(snapshot);
  const cliPath = join(snapshot, bins.cli);
  const serverPath = join(snapshot, bins.server);
  const scratch = await resources.tempDir('sekuire-bench-');
  const timer: Timer = hyperfine.path === undefined ? loopTimer() : hyperfineTimer(hyperfine.path, scratch);
  const errors: string[] = [];
  const baseEnv = environmentWithoutSekuire();
  let cli: CliBenchResult | undefined;
  let server: ServerBenchResult | undefined;
  let dashboard: DashboardBenchResult | undefined;
  let cluster: Cluster | undefined;
  try {
    await snapshotDist(DIST, snapshot, bins);
    cli = await section('CLI timings', errors, () =>
      cliBench(resources, {
        cliPath,
        serverPath,
        timer,
        timerHasInput,
        gnuTime: gnuTime.path,
        warmup: SETTINGS.warmup,
        runs: SETTINGS.runs,
        rssRuns: SETTINGS.rssRuns,
        baseEnv,
      }),
    );
    if (process.env[SKIP_VARIABLE] === '1') {
      notes.push(`PostgreSQL not measured: ${SKIP_VARIABLE}=1`);
    } else {
      cluster = await section('PostgreSQL cluster', errors, () => startCluster());
    }
    server = await section('server load', errors, () =>
      serverBench(resources, {
        rounds: SETTINGS.rounds,
        revocations: SETTINGS.revocations,
        postgresAdminUrl: cluster?.adminUrl,
        postgresDataDir: cluster === undefined ? undefined : join(cluster.dir, 'data'),
        serverPath,
        barePath: BARE_PATH,
        connections: SETTINGS.connections,
        durationSeconds: SETTINGS.durationSeconds,
        warmupSeconds: SETTINGS.warmupSeconds,
        smallKeys: SETTINGS.smallKeys,
        largeKeys: SETTINGS.largeKeys,
        rotation: SETTINGS.rotation,
        wideRotation: SETTINGS.wideRotation,
        baseEnv,
      }),
    );
    dashboard = await section('dashboard', errors, () =>
      dashboardBench(resources, {
        rounds: SETTINGS.rounds,
        serverPath,
        barePath: BARE_PATH,
        keys: SETTINGS.dashboardKeys,
        connections: SETTINGS.dashboardConnections,
        durationSeconds: SETTINGS.durationSeconds,
        warmupSeconds: SETTINGS.warmupSeconds,
        signIn: {
          attempts: SETTINGS.signInAttempts,
          refused: SETTINGS.refusedSignIns,
          streams: SETTINGS.signInStreams,
          perStream: SETTINGS.signInsPerStream,
        },
        scryptRuns: SETTINGS.scryptRuns,
        baseEnv,
        postgresAdminUrl: cluster?.adminUrl,
        postgresDataDir: cluster === undefined ? undefined : join(cluster.dir, 'data'),
      }),
    );
  } finally {
    await resources.releaseAll();
    if (cluster !== undefined) await stopCluster(cluster);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const touched = [server?.sqlite, server?.postgres].reduce(
    (sum, result) =>
      sum +
      [result?.small, result?.large, result?.signed, result?.serverKeys].reduce(
        (inner, seeded) => inner + (seeded?.touchedDevices ?? 0),
        0,
      ),
    0,
  );
  if (touched > 0) {
    notes.push(
      `${touched} devices had last_seen_at updated during the load: those status requests also wrote`,
    );
  }
  const engines = cluster === undefined ? (['sqlite'] as const) : (['sqlite', 'postgres'] as const);
  const rows: Row[] = [
    ...cliRows(cli),
    ...serverRows(server, SETTINGS.smallKeys, SETTINGS.largeKeys, engines),
    ...dashboardRows(dashboard, SETTINGS.dashboardKeys, SETTINGS.dashboardConnections, engines),
  ];
  const method = {
    cli:
      timer.kind === 'hyperfine'
        ? `hyperfine -N, mean of ${SETTINGS.runs} runs after ${SETTINGS.warmup} warmups; login stdin: ${cli?.loginStdin ?? '?'}`
        : `own spawnSync loop, mean of ${SETTINGS.runs} runs after ${SETTINGS.warmup} warmups; login stdin: ${cli?.loginStdin ?? '?'}`,
    rss: cli?.rssNote ?? 'not measured',
    load: `autocannon ${SETTINGS.connections} connections, ${SETTINGS.warmupSeconds} s warmup then ${SETTINGS.durationSeconds} s, GET /api/v1/cli/status with keys bound to devices (X-Sekuire-Device matching); ${SETTINGS.rotation} keys in rotation spread over the table (each connection cycles through its own share); bare node:http and every server measured in ${SETTINGS.rounds} alternating rounds, the median round quoted; plus, on ${SETTINGS.smallKeys}-key databases of their own, keys bound with device keys (each request signed with a new proof in autocannon's setupRequest, by the bench process: its CPU is the load generator's) and server keys (unbound, no proof), in the same alternating rounds; plus an informational ${SETTINGS.wideRotation}-key run on each large database; status answers are reads only (seeded last_seen_at and last_used_at are recent); server memory from /proc/<pid>/status every 500 ms; revocations: revoke-key (a new process) then GET status on the other instance until refused`,
    dashboard: `an organization with ${SETTINGS.dashboardKeys} keys (its owner made by sekuire-server create-user --password-stdin, the keys inserted in bulk: every 10th revoked, every 10th a server key, the other client keys bound to a device), on each engine; its owner signed in once through POST /api/v1/auth/login (Bearer access token) and once through the /login form (session and CSRF cookies); autocannon ${SETTINGS.dashboardConnections} connections, ${SETTINGS.warmupSeconds} s warmup then ${SETTINGS.durationSeconds} s, GET /api/v1/keys (its first page: the default of 100 keys, with the total) and GET /dashboard/settings?tab=api-keys (the first page a person sees: 50 keys of ${SETTINGS.dashboardKeys}), with bare node:http answering bodies of the same sizes, in ${SETTINGS.rounds} alternating rounds, the median round (by req/s) quoted; page weight: the HTML plus the assets it links to, as served (no compression); sign-in: POST /api/v1/auth/login ${SETTINGS.signInAttempts} times with the right password and ${SETTINGS.signInAttempts} with a wrong one, interleaved, one at a time, each account (the owner's scrypt hash copied to extra users) at most 10 attempts and from its own 127.0.0.x address so the limits (30 per address, 50 failures per account per 15 min) are never met, server CPU from /proc/<pid>/stat (10 ms ticks) per attempt; then ${SETTINGS.refusedSignIns} attempts past an address's limit (429); then ${SETTINGS.signInStreams} clients at once, ${SETTINGS.signInsPerStream} wrong passwords each; and verifyPassword (scrypt N=2^17) alone in the bench process, ${SETTINGS.scryptRuns} times`,
  };

  console.log('');
  console.log(`sekuire benchmark, ${startedAt.toISOString()}`);
  console.log(
    `machine: ${machine.cpuModel} x ${machine.cpuCount}, ${machine.totalMemoryGb} GB RAM, Node ${machine.node}, ${machine.platform}`,
  );
  console.log(
    `bins: node dist/${bins.cli} (sekuire), node dist/${bins.server} (sekuire-server), run from a copy of dist/`,
  );
  console.log(`timing: ${hyperfineVersion ?? 'built-in loop'} (${method.cli})`);
  console.log(`load: ${method.load}`);
  console.log(`dashboard: ${method.dashboard}`);
  for (const note of notes) console.log(`note: ${note}`);
  console.log('');
  console.log(textTable(rows));
  const judged = rows.filter((row) => row.verdict === 'PASS' || row.verdict === 'MISS');
  const passed = judged.filter((row) => row.verdict === 'PASS').length;
  console.log('');
  console.log(
    `${passed} of ${judged.length} targets met${errors.length > 0 ? `; ${errors.length} section(s) failed` : ''}`,
  );

  const stamp = startedAt
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z');
  const file = join(RESULTS_DIR, `bench-${stamp}.json`);
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    quick: QUICK,
    machine: { ...machine, hyperfine: hyperfineVersion ?? null, gnuTime: gnuTime.path ?? null },
    tools: { hyperfine: hyperfine.note, time: gnuTime.note, hyperfineHasInput: timerHasInput },
    bins,
    settings: SETTINGS,
    method,
    notes,
    rows,
    cli: cli ?? null,
    server: server ?? null,
    dashboard: dashboard ?? null,
    errors,
  };
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`results: ${relative(process.cwd(), file)}`);

  if (errors.length > 0) return 1;
  return process.env.BENCH_STRICT === '1' && passed < judged.length ? 1 : 0;
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
