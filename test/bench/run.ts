// `npm run bench`: CLI start-up and server load against same-run baselines; table on stdout, JSON in bench-results/.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { type Cluster, SKIP_VARIABLE, startCluster, stopCluster } from '../helpers/postgres.js';
import { type CliBenchResult, cliBench } from './cli-bench.js';
import { type DashboardBenchResult, dashboardBench } from './dashboard-bench.js';
import { type KeyStoreBenchResult, keyStoreBench } from './key-store-bench.js';
import { type OpsBenchResult, opsBench } from './ops-bench.js';
import { Resources } from './processes.js';
import { type ProfilesBenchResult, profilesBench } from './profiles-bench.js';
import {
  cliRows,
  dashboardRows,
  keyStoreRows,
  opsRows,
  profilesRows,
  type Row,
  serverRows,
  startupRows,
  textTable,
  verifyRows,
} from './report.js';
import { type ServerBenchResult, serverBench } from './server-bench.js';
import { type Bins, distBin, snapshotDists, snapshotPath } from './snapshot.js';
import { type CliBuild, nodeBinaries, type StartupResult, startupBench } from './startup.js';
import { hyperfineTimer, loopTimer, type Timer } from './timing.js';
import { ensureTool, helpMentions, type Tool, toolVersion } from './tools.js';
import { type VerifyBenchResult, verifyBench } from './verify-bench.js';

const ROOT = resolve(import.meta.dirname, '../..');
const RESULTS_DIR = join(ROOT, 'bench-results');
const BARE_PATH = join(import.meta.dirname, 'bare-server.mjs');

/** BENCH_QUICK=1: a fast smoke run of the bench itself; its figures are not the real ones. BENCH_STRICT=1: exit 1 on a MISS. */
const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_SECTIONS=startup,cli,server,dashboard,profiles,stores,ops,verify (any of them): run only those; all by default. */
const SECTION_NAMES = [
  'startup',
  'cli',
  'server',
  'dashboard',
  'profiles',
  'stores',
  'ops',
  'verify',
] as const;
type SectionName = (typeof SECTION_NAMES)[number];
const SECTION_LABELS: Readonly<Record<SectionName, string>> = {
  startup: 'start-up',
  cli: 'CLI timings',
  server: 'server load',
  dashboard: 'dashboard',
  profiles: 'profiles',
  stores: 'device-key stores',
  ops: 'request log and metrics',
  verify: 'verification for other services',
};
const SECTIONS = new Set<SectionName>(
  process.env.BENCH_SECTIONS === undefined || process.env.BENCH_SECTIONS.trim() === ''
    ? SECTION_NAMES
    : SECTION_NAMES.filter((name) => process.env.BENCH_SECTIONS?.split(',').includes(name)),
);
/**
 * BENCH_BEFORE_CLI=path/to/cli.cjs: an older build of the CLI (e.g. built from the main branch),
 * timed in the same alternating rounds as this one, so that before and after share the load.
 */
const BEFORE_CLI = process.env.BENCH_BEFORE_CLI;
/** The Node majors the start-up section times the CLI on (binaries from scripts/node-bin.sh). */
const STARTUP_MAJORS = (process.env.BENCH_NODES ?? '20,22,24').split(',').map((major) => major.trim());
/** The CA bundle for the runs with NODE_EXTRA_CA_CERTS set: the environment's, else Debian's. */
const CA_FILE = process.env.NODE_EXTRA_CA_CERTS ?? '/etc/ssl/certs/ca-certificates.crt';
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
  /** Alternating rounds of the profiles and the device-key stores sections. */
  profileRounds: QUICK ? 5 : 60,
  storeRounds: QUICK ? 5 : 60,
  revocations: QUICK ? 10 : 50,
  /** The ops section: rounds of its four servers in turning order (a new process each round), keys per database (all in rotation). */
  opsRounds: QUICK ? 1 : 5,
  opsKeys: 100,
  /** The verify section's revocations per engine, behind sekuire-verify. */
  verifyRevocations: QUICK ? 5 : 30,
  /** Issue 11: one organization's keys, listed and paged by its owner, at this many connections. */
  dashboardKeys: 1_000,
  dashboardConnections: 8,
  /** Sign-ins timed per kind (right, wrong password), one at a time; refused ones; a burst of clients at once. */
  signInAttempts: QUICK ? 3 : 12,
  refusedSignIns: QUICK ? 20 : 50,
  signInStreams: QUICK ? 2 : 4,
  signInsPerStream: QUICK ? 2 : 3,
  scryptRuns: QUICK ? 3 : 10,
  startupWarmup: QUICK ? 1 : 2,
  /** BENCH_STARTUP_ROUNDS overrides, e.g. for a longer run on a loaded machine. */
  startupRounds: Number(process.env.BENCH_STARTUP_ROUNDS ?? (QUICK ? 7 : 31)),
};

/** The two bins, each named by its package's package.json "bin" (packages/cli, packages/server). */
function binsInDist(): Bins {
  return {
    cli: distBin(join(ROOT, 'packages/cli'), 'sekuire'),
    server: distBin(join(ROOT, 'packages/server'), 'sekuire-server'),
  };
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
  const unused: Tool = { path: undefined, note: 'not needed: BENCH_SECTIONS leaves out the CLI timings' };
  const hyperfine: Tool = !SECTIONS.has('cli')
    ? unused
    : process.env.BENCH_TIMER === 'loop'
      ? { path: undefined, note: 'skipped: BENCH_TIMER=loop' }
      : ensureTool('hyperfine', 'hyperfine');
  const gnuTime = SECTIONS.has('cli') ? ensureTool('time', 'time', '/usr/bin/time') : unused;
  const hyperfineVersion = hyperfine.path === undefined ? undefined : toolVersion(hyperfine.path);
  const timerHasInput = hyperfine.path !== undefined && helpMentions(hyperfine.path, '--input');
  if (hyperfine.path === undefined && SECTIONS.has('cli')) {
    notes.push(
      `hyperfine unavailable (${hyperfine.note}): timed with the bench's own loop (same warmups, runs and statistics)`,
    );
  }
  if (gnuTime.path === undefined && SECTIONS.has('cli'))
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
  // The bench runs a copy of the dist/ folders taken now: the build it measures stays put for the whole run.
  const snapshot = join(RESULTS_DIR, `.dist-${process.pid}`);
  resources.adoptDir(snapshot);
  const cliPath = snapshotPath(snapshot, bins.cli);
  const serverPath = snapshotPath(snapshot, bins.server);
  const scratch = await resources.tempDir('sekuire-bench-');
  const timer: Timer = hyperfine.path === undefined ? loopTimer() : hyperfineTimer(hyperfine.path, scratch);
  const errors: string[] = [];
  const optional = <T>(name: SectionName, fn: () => Promise<T>): Promise<T | undefined> =>
    SECTIONS.has(name) ? section(SECTION_LABELS[name], errors, fn) : Promise.resolve(undefined);
  const baseEnv = environmentWithoutSekuire();
  let startup: StartupResult | undefined;
  let cli: CliBenchResult | undefined;
  let server: ServerBenchResult | undefined;
  let dashboard: DashboardBenchResult | undefined;
  let profiles: ProfilesBenchResult | undefined;
  let stores: KeyStoreBenchResult | undefined;
  let ops: OpsBenchResult | undefined;
  let verify: VerifyBenchResult | undefined;
  let cluster: Cluster | undefined;
  try {
    await snapshotDists(snapshot, bins);
    startup = await optional('startup', async () => {
      const builds: CliBuild[] = [{ label: 'after', path: cliPath }];
      if (BEFORE_CLI !== undefined) {
        if (!existsSync(BEFORE_CLI)) throw new Error(`BENCH_BEFORE_CLI: no file ${BEFORE_CLI}`);
        builds.push({ label: 'before', path: resolve(BEFORE_CLI) });
      }
      const { NODE_EXTRA_CA_CERTS: _ignored, ...withoutCa } = baseEnv;
      return startupBench(resources, {
        builds,
        serverPath,
        nodes: nodeBinaries(ROOT, STARTUP_MAJORS, notes),
        caFile: existsSync(CA_FILE) ? CA_FILE : undefined,
        warmup: SETTINGS.startupWarmup,
        rounds: SETTINGS.startupRounds,
        baseEnv: withoutCa,
      });
    });
    profiles = await optional('profiles', () =>
      profilesBench({ cli: cliPath, server: serverPath, rounds: SETTINGS.profileRounds, before: BEFORE_CLI }),
    );
    stores = await optional('stores', () =>
      keyStoreBench({ cli: cliPath, rounds: SETTINGS.storeRounds, before: BEFORE_CLI }),
    );
    cli = await optional('cli', () =>
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
    ops = await optional('ops', () =>
      opsBench(resources, {
        rounds: SETTINGS.opsRounds,
        serverPath,
        keys: SETTINGS.opsKeys,
        connections: SETTINGS.connections,
        durationSeconds: SETTINGS.durationSeconds,
        warmupSeconds: SETTINGS.warmupSeconds,
        baseEnv,
      }),
    );
    if (!SECTIONS.has('server') && !SECTIONS.has('dashboard') && !SECTIONS.has('verify')) {
      // no section needs a database server
    } else if (process.env[SKIP_VARIABLE] === '1') {
      notes.push(`PostgreSQL not measured: ${SKIP_VARIABLE}=1`);
    } else {
      cluster = await section('PostgreSQL cluster', errors, () => startCluster());
    }
    server = await optional('server', () =>
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
    dashboard = await optional('dashboard', () =>
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
    verify = await optional('verify', () =>
      verifyBench(resources, {
        serverPath,
        barePath: BARE_PATH,
        postgresAdminUrl: cluster?.adminUrl,
        connections: SETTINGS.connections,
        durationSeconds: SETTINGS.durationSeconds,
        warmupSeconds: SETTINGS.warmupSeconds,
        rounds: SETTINGS.rounds,
        revocations: SETTINGS.verifyRevocations,
        baseEnv,
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
    ...(SECTIONS.has('startup') ? startupRows(startup) : []),
    ...(SECTIONS.has('profiles') ? profilesRows(profiles) : []),
    ...(SECTIONS.has('stores') ? keyStoreRows(stores) : []),
    ...(SECTIONS.has('cli') ? cliRows(cli) : []),
    ...(SECTIONS.has('server') ? serverRows(server, SETTINGS.smallKeys, SETTINGS.largeKeys, engines) : []),
    ...(SECTIONS.has('dashboard')
      ? dashboardRows(dashboard, SETTINGS.dashboardKeys, SETTINGS.dashboardConnections, engines)
      : []),
    ...(SECTIONS.has('ops') ? opsRows(ops) : []),
    ...(SECTIONS.has('verify') ? verifyRows(verify, engines) : []),
  ];
  const method = {
    profiles: `the bench's Node, NODE_EXTRA_CA_CERTS unset: status and status --offline on a home with one profile and on one with ten (its active profile a named one), against a local sekuire-server, ${SETTINGS.profileRounds} alternating rounds after 3 warmups, medians of the per-round ratios (test/bench/profiles-bench.ts)`,
    stores: `the bench's Node, NODE_EXTRA_CA_CERTS unset: status and status --offline logged in with each store (file; OpenSSH's ssh-agent with a throwaway P-256 key; gnome-keyring on a D-Bus of its own; swtpm through openssl's tpm2 provider), ${SETTINGS.storeRounds} rounds in turning order after 3 warmups, each time paired with the file store's of the same round, medians of the differences (test/bench/key-store-bench.ts)`,
    startup: `per Node (${STARTUP_MAJORS.join(', ')} from scripts/node-bin.sh), with NODE_EXTRA_CA_CERTS unset and set to ${CA_FILE}: node -e 0, sekuire --version, status --offline, status and api /api/v1/cli/status (signed, against a local sekuire-server on the bench's Node, http://127.0.0.1) each run once per round, ${SETTINGS.startupRounds} alternating rounds after ${SETTINGS.startupWarmup} warmups, spawnSync with output discarded; median ms, and the median of each round's ratio to node -e 0 of the same Node and setting${BEFORE_CLI === undefined ? '' : `; the build before: ${BEFORE_CLI}, in the same rounds`}`,
    cli:
      timer.kind === 'hyperfine'
        ? `hyperfine -N, mean of ${SETTINGS.runs} runs after ${SETTINGS.warmup} warmups; login stdin: ${cli?.loginStdin ?? '?'}`
        : `own spawnSync loop, mean of ${SETTINGS.runs} runs after ${SETTINGS.warmup} warmups; login stdin: ${cli?.loginStdin ?? '?'}`,
    rss: cli?.rssNote ?? 'not measured',
    load: `autocannon ${SETTINGS.connections} connections, ${SETTINGS.warmupSeconds} s warmup then ${SETTINGS.durationSeconds} s, GET /api/v1/cli/status with keys bound to devices (X-Sekuire-Device matching); ${SETTINGS.rotation} keys in rotation spread over the table (each connection cycles through its own share); bare node:http and every server measured in ${SETTINGS.rounds} alternating rounds, the median round quoted; plus, on ${SETTINGS.smallKeys}-key databases of their own, keys bound with device keys (each request signed with a new proof in autocannon's setupRequest, by the bench process: its CPU is the load generator's) and server keys (unbound, no proof), in the same alternating rounds; plus an informational ${SETTINGS.wideRotation}-key run on each large database; status answers are reads only (seeded last_seen_at and last_used_at are recent); server memory from /proc/<pid>/status every 500 ms; revocations: revoke-key (a new process) then GET status on the other instance until refused`,
    ops: `GET /api/v1/cli/status with ${SETTINGS.opsKeys} keys (legacy bindings, unsigned), all in rotation, against four servers on SQLite databases of their own: log silent and metrics off, the same again as a control (how far two identical servers measure apart, this run), log at info to a pipe read by a cat of its own (a log collector in its own process), --metrics with the log silent; each started anew for each round (a process keeps the state it settles into for its life) and stopped after it; autocannon ${SETTINGS.connections} connections, ${SETTINGS.warmupSeconds} s warmup then ${SETTINGS.durationSeconds} s, ${SETTINGS.opsRounds} rounds in turning order, median req/s of each against the median of both off; server CPU a request from /proc/<pid>/stat (test/bench/ops-bench.ts)`,
    verify: `POST /api/v1/verify with a new proof in every request (signed before the run), 8 client keys bound to devices, on SQLite${cluster === undefined ? '' : ' and on PostgreSQL'}, alternating with bare node:http (GET, 200 bytes) and a signed GET /api/v1/cli/status on the SQLite server; autocannon ${SETTINGS.connections} connections, ${SETTINGS.rounds} rounds of ${SETTINGS.durationSeconds} s, each after a ${SETTINGS.warmupSeconds} s warmup that reads every answer and stops the section unless each is valid, medians; the servers' log silent; then ${SETTINGS.verifyRevocations} revocations per engine: a Fastify service behind sekuire-verify called in a loop with a key bound to a device, revoke-key run on the server's database, the time from its return to the service's first refusal, and any request sent after that return and accepted counted (test/bench/verify-bench.ts)`,
    dashboard: `an organization with ${SETTINGS.dashboardKeys} keys (its owner made by sekuire-server create-user --password-stdin, the keys inserted in bulk: every 10th revoked, every 10th a server key, the other client keys bound to a device), on each engine; its owner signed in once through POST /api/v1/auth/login (Bearer access token) and once through the /login form (session and CSRF cookies); autocannon ${SETTINGS.dashboardConnections} connections, ${SETTINGS.warmupSeconds} s warmup then ${SETTINGS.durationSeconds} s, GET /api/v1/keys (its first page: the default of 100 keys, with the total) and GET /dashboard/settings?tab=api-keys (the first page a person sees: 50 keys of ${SETTINGS.dashboardKeys}), with bare node:http answering bodies of the same sizes, in ${SETTINGS.rounds} alternating rounds, the median round (by req/s) quoted; page weight: the HTML plus the assets it links to, as served (no compression); sign-in: POST /api/v1/auth/login ${SETTINGS.signInAttempts} times with the right password and ${SETTINGS.signInAttempts} with a wrong one, interleaved, one at a time, each account (the owner's scrypt hash copied to extra users) at most 10 attempts and from its own 127.0.0.x address so the limits (30 per address, 50 failures per account per 15 min) are never met, server CPU from /proc/<pid>/stat (10 ms ticks) per attempt; then ${SETTINGS.refusedSignIns} attempts past an address's limit (429); then ${SETTINGS.signInStreams} clients at once, ${SETTINGS.signInsPerStream} wrong passwords each; and verifyPassword (scrypt N=2^17) alone in the bench process, ${SETTINGS.scryptRuns} times`,
  };

  console.log('');
  console.log(`sekuire benchmark, ${startedAt.toISOString()}`);
  console.log(
    `machine: ${machine.cpuModel} x ${machine.cpuCount}, ${machine.totalMemoryGb} GB RAM, Node ${machine.node}, ${machine.platform}`,
  );
  console.log(
    `bins: packages/${bins.cli.name}/dist/${bins.cli.file} (sekuire), packages/${bins.server.name}/dist/${bins.server.file} (sekuire-server), run from a copy of the dist/ folders`,
  );
  console.log(`sections: ${[...SECTIONS].join(', ')}`);
  if (SECTIONS.has('startup')) console.log(`start-up: ${method.startup}`);
  if (SECTIONS.has('profiles')) console.log(`profiles: ${method.profiles}`);
  if (SECTIONS.has('stores')) console.log(`device-key stores: ${method.stores}`);
  if (SECTIONS.has('cli')) console.log(`timing: ${hyperfineVersion ?? 'built-in loop'} (${method.cli})`);
  if (SECTIONS.has('server')) console.log(`load: ${method.load}`);
  if (SECTIONS.has('dashboard')) console.log(`dashboard: ${method.dashboard}`);
  if (SECTIONS.has('ops')) console.log(`request log and metrics: ${method.ops}`);
  if (SECTIONS.has('verify')) console.log(`verification for other services: ${method.verify}`);
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
    startup: startup ?? null,
    cli: cli ?? null,
    server: server ?? null,
    dashboard: dashboard ?? null,
    profiles: profiles ?? null,
    stores: stores ?? null,
    ops: ops ?? null,
    verify: verify ?? null,
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
