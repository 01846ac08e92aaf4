// The targets of the performance issue as rows: measured figure, baseline, ratio, target, PASS/MISS.

import type { Engine } from '../../packages/server/src/store/store.js';
import type { CliBenchResult } from './cli-bench.js';
import type { AttemptFigures, DashboardBenchResult } from './dashboard-bench.js';
import type { KeyStoreBenchResult } from './key-store-bench.js';
import type { LoadFigures } from './load.js';
import type { OpsBenchResult, OpsVariant } from './ops-bench.js';
import type { ProfilesBenchResult } from './profiles-bench.js';
import type { LoadRun, ServerBenchResult } from './server-bench.js';
import type { StartupCell, StartupCommand, StartupResult } from './startup.js';
import type { CommandTiming } from './timing.js';
import type { VerifyBenchResult, VerifyTargetFigures } from './verify-bench.js';

export type Verdict = 'PASS' | 'MISS' | 'ERROR' | 'INFO';

export interface Row {
  readonly what: string;
  readonly measured: string;
  readonly baseline: string;
  /** measured / baseline, when the target is a ratio. */
  readonly ratio: number | undefined;
  readonly target: string;
  readonly verdict: Verdict;
  /** The raw figures, for the JSON. */
  readonly value: number | undefined;
  readonly baselineValue: number | undefined;
}

const ms = (timing: CommandTiming) =>
  `${timing.ms.mean.toFixed(1)} ms (median ${timing.ms.median.toFixed(1)}, sd ${timing.ms.stddev.toFixed(1)})`;

/** CPU of server and load generator during the run, in % of one core. */
const cpu = (load: LoadFigures) =>
  `${load.proofs === undefined ? '' : `proofs made before the load: ${load.proofs.presigned}, during it: ${load.proofs.signedDuringRun}; `}CPU server ${load.cpuPercent.server.toFixed(0)} %, autocannon ${load.cpuPercent.loadGenerator.toFixed(0)} %${load.cpuPercent.database === undefined ? '' : `, PostgreSQL ${load.cpuPercent.database.toFixed(0)} %`}`;

function verdict(pass: boolean): Verdict {
  return pass ? 'PASS' : 'MISS';
}

function errorRow(what: string, target: string): Row {
  return {
    what,
    measured: 'not measured',
    baseline: '',
    ratio: undefined,
    target,
    verdict: 'ERROR',
    value: undefined,
    baselineValue: undefined,
  };
}

/** A command's mean against its baseline's; `maxRatio` undefined: information only. */
function startupRow(
  what: string,
  command: CommandTiming,
  baseline: CommandTiming,
  maxRatio: number | undefined,
): Row {
  const ratio = command.ms.mean / baseline.ms.mean;
  return {
    what,
    measured: ms(command),
    baseline: `${baseline.name}: ${ms(baseline)}`,
    ratio,
    target: maxRatio === undefined ? 'info' : `<= ${maxRatio.toFixed(1)} x`,
    verdict: maxRatio === undefined ? 'INFO' : verdict(ratio <= maxRatio),
    value: command.ms.mean,
    baselineValue: baseline.ms.mean,
  };
}

export function cliRows(cli: CliBenchResult | undefined): Row[] {
  const startup: [string, number][] = [['sekuire login --with-key (local server)', 2.5]];
  const rssTarget = '< 80 MB';
  if (cli === undefined) {
    return [
      ...startup.map(([what, ratio]) => errorRow(what, `<= ${ratio.toFixed(1)} x`)),
      errorRow('sekuire status peak RSS', rssTarget),
    ];
  }
  const signed = cli.signedStatus;
  const cost = cli.proofCost;
  const rows = [
    // Judged in the start-up rows (per Node, the variable unset and set); these are means on
    // the bench's own Node, with the environment's NODE_EXTRA_CA_CERTS.
    startupRow('sekuire --version (bench Node)', cli.version, cli.baseline, undefined),
    startupRow('sekuire status --offline (bench Node)', cli.statusOffline, cli.baseline, undefined),
    startupRow('sekuire status, local server (bench Node)', cli.status, cli.baseline, undefined),
    {
      what: 'sekuire status (local server) sends a signed request',
      measured: `binding key_thumbprint ${signed.binding === null ? 'null' : signed.binding === signed.deviceKeyJson ? '= device-key.json' : '!= device-key.json'}; unsigned GET: ${signed.unsignedStatus} ${signed.unsignedCode ?? ''}; signed GET: ${signed.signedStatus}`,
      baseline: '',
      ratio: undefined,
      target: 'bound with device key, proof enforced',
      verdict: verdict(signed.ok),
      value: undefined,
      baselineValue: undefined,
    },
    {
      what: 'sekuire status: proof cost per request (not a target)',
      measured: `${cost.totalUs.median.toFixed(0)} µs median of ${cost.iterations} (read+parse device-key.json ${cost.readUs.median.toFixed(0)} µs, proofHeaders ${cost.signUs.median.toFixed(0)} µs; p99 ${cost.totalUs.p99.toFixed(0)} µs; first ${cost.firstUs.toFixed(0)} µs)`,
      baseline: `sekuire status: ${cli.status.ms.mean.toFixed(1)} ms`,
      ratio: undefined,
      target: 'info',
      verdict: 'INFO' as const,
      value: cost.totalUs.median,
      baselineValue: cli.status.ms.mean * 1000,
    },
    startupRow('sekuire login --with-key (local server)', cli.login, cli.loginBaseline, 2.5),
  ];
  if (cli.rss === undefined) {
    rows.push({ ...errorRow('sekuire status peak RSS', rssTarget), measured: cli.rssNote });
  } else {
    rows.push({
      what: 'sekuire status peak RSS',
      measured: `${cli.rss.statusMedianMb.toFixed(1)} MB (median of ${cli.rss.statusKb.length})`,
      baseline: `node -e 0: ${cli.rss.baselineMedianMb.toFixed(1)} MB`,
      ratio: undefined,
      target: rssTarget,
      verdict: verdict(cli.rss.statusMedianMb < 80),
      value: cli.rss.statusMedianMb,
      baselineValue: cli.rss.baselineMedianMb,
    });
  }
  return rows;
}

/** The issue's start-up targets, as ratios to `node -e 0` on the same Node, with NODE_EXTRA_CA_CERTS unset, on Node 22 and 24. */
const STARTUP_TARGETS: Readonly<Partial<Record<StartupCommand, number>>> = {
  'sekuire --version': 1.15,
  'sekuire status --offline': 1.35,
  'sekuire status': 1.6,
};
const TARGET_MAJORS = ['v22.', 'v24.'];
/** Issue 18: `sekuire api` making the request `status` makes, at most this many times status's time. */
const API_TARGET = 1.1;

/**
 * Start-up per Node and NODE_EXTRA_CA_CERTS setting. With the variable unset, Node 22 and 24 are
 * judged against the targets; Node 20 (no target of its own) against the build before, when
 * BENCH_BEFORE_CLI gave one: no worse than it. The rest is information.
 */
export function startupRows(startup: StartupResult | undefined): Row[] {
  if (startup === undefined) return [errorRow('sekuire start-up per Node', 'see the targets')];
  const rows: Row[] = [];
  const msText = (cell: StartupCell) => `${cell.medianMs.toFixed(1)} ms median`;
  for (const cell of startup.cells) {
    if (cell.command === 'node -e 0') continue;
    const setting = cell.caSet ? 'NODE_EXTRA_CA_CERTS set' : 'NODE_EXTRA_CA_CERTS unset';
    const baseline = startup.cells.find(
      (other) => other.node === cell.node && other.caSet === cell.caSet && other.command === 'node -e 0',
    );
    const before = startup.cells.find(
      (other) =>
        other.build === 'before' &&
        other.node === cell.node &&
        other.caSet === cell.caSet &&
        other.command === cell.command,
    );
    const limit = STARTUP_TARGETS[cell.command];
    let target = 'info';
    let judged: Verdict = 'INFO';
    if (cell.build === 'after' && !cell.caSet && limit !== undefined) {
      if (TARGET_MAJORS.some((major) => cell.node.startsWith(major))) {
        target = `<= ${limit.toFixed(2)} x`;
        judged = verdict(cell.ratio <= limit);
      } else if (before !== undefined) {
        target = `<= before (${before.ratio.toFixed(2)} x)`;
        judged = verdict(cell.ratio <= before.ratio);
      }
    }
    if (cell.ratioToStatus !== undefined) {
      const status = startup.cells.find(
        (other) =>
          other.node === cell.node &&
          other.caSet === cell.caSet &&
          other.build === cell.build &&
          other.command === 'sekuire status',
      );
      rows.push({
        what: `${cell.node}, ${setting}: sekuire api /api/v1/cli/status against sekuire status${cell.build === 'before' ? ' (before)' : ''}`,
        measured: msText(cell),
        baseline: status === undefined ? '' : `sekuire status: ${msText(status)}`,
        ratio: cell.ratioToStatus,
        target: cell.caSet ? 'info' : `<= ${API_TARGET.toFixed(2)} x`,
        verdict: cell.caSet ? 'INFO' : verdict(cell.ratioToStatus <= API_TARGET),
        value: cell.medianMs,
        baselineValue: status?.medianMs,
      });
      continue;
    }
    rows.push({
      what: `${cell.node}, ${setting}: ${cell.command}${cell.build === 'before' ? ' (before)' : ''}`,
      measured: `${msText(cell)}${before !== undefined && cell.build === 'after' ? `; before: ${before.ratio.toFixed(2)} x` : ''}`,
      baseline: baseline === undefined ? '' : `node -e 0: ${msText(baseline)}`,
      ratio: cell.ratio,
      target,
      verdict: judged,
      value: cell.medianMs,
      baselineValue: baseline?.medianMs,
    });
  }
  return rows;
}

/** The server's targets per engine (issue: SQLite >= 0.45 x, PostgreSQL >= 0.35 x bare node:http). */
const THROUGHPUT_TARGETS: Readonly<Record<Engine, number>> = { sqlite: 0.45, postgres: 0.35 };
/** Device proof (issue 13): signed status, a new proof per request, >= 0.2 x bare node:http on both engines. */
const SIGNED_TARGET = 0.2;
/**
 * Server keys are "unchanged" by device proof: never bound, so no proof is verified and no nonce
 * claimed; their status does the same work as a legacy client key's (minus the device in the
 * answer). The expected ratio is 1; 0.9 leaves room for the noise between two targets measured
 * in alternating rounds on this 2-core machine (rounds of one target differ by 5-10 %), and still
 * catches a real change: a proof check or a nonce claim on their path would cost far more (see
 * the signed rows).
 */
const SERVER_KEY_TARGET = 0.9;

export function serverRows(
  server: ServerBenchResult | undefined,
  smallKeys: number,
  largeKeys: number,
  engines: readonly Engine[],
): Row[] {
  const small = `${smallKeys.toLocaleString('en-US')} keys`;
  const large = `${largeKeys.toLocaleString('en-US')} keys`;
  const rows: Row[] = [];
  for (const engine of engines) {
    const result = server?.[engine];
    const min = THROUGHPUT_TARGETS[engine];
    if (server === undefined || result === undefined) {
      rows.push(
        errorRow(`${engine}: status req/s, ${small}`, `>= ${min} x bare node:http`),
        errorRow(`${engine}: status p99 latency, ${small}`, '< 20 ms'),
        errorRow(`${engine}: status errors + non2xx, ${small}`, '0'),
        errorRow(`${engine}: peak RSS under load, ${small}`, '< 200 MB'),
        errorRow(`${engine}: status req/s, ${large}`, `>= 0.9 x ${small}`),
        errorRow(`${engine}: status req/s, ${small} signed`, `>= ${SIGNED_TARGET} x bare node:http`),
        errorRow(`${engine}: status errors + non2xx, ${small} signed`, '0'),
        errorRow(
          `${engine}: status req/s, ${small} server keys`,
          `>= ${SERVER_KEY_TARGET} x unsigned client keys`,
        ),
        errorRow(`${engine}: status errors + non2xx, ${small} server keys`, '0'),
      );
      continue;
    }
    const bare = server.bare.load;
    const runRows = (
      label: string,
      run: LoadRun,
      reqs: { baseline: string; baselineValue: number; min: number; target: string } | undefined,
      /** 'info': p99 and RSS reported without a target (the issue sets none for this scenario). */
      limits: 'targets' | 'info' = 'targets',
    ) => {
      const load = run.load;
      const judge = (pass: boolean): Verdict => (reqs === undefined ? 'INFO' : verdict(pass));
      const ratio = reqs === undefined ? undefined : load.requestsPerSecond / reqs.baselineValue;
      const roundsText =
        run.rounds.length > 1
          ? `, median of ${run.rounds.length} rounds: ${run.rounds.map((round) => round.requestsPerSecond.toFixed(0)).join(' / ')}`
          : '';
      rows.push({
        what: `${engine}: status req/s, ${label}, ${run.rotation} keys in rotation`,
        measured: `${load.requestsPerSecond.toFixed(0)} req/s (${cpu(load)}${roundsText})`,
        baseline: reqs?.baseline ?? '',
        ratio,
        target: reqs?.target ?? 'info',
        verdict: judge(ratio !== undefined && reqs !== undefined && ratio >= reqs.min),
        value: load.requestsPerSecond,
        baselineValue: reqs?.baselineValue,
      });
      if (reqs === undefined) return;
      const info = limits === 'info';
      rows.push({
        what: `${engine}: status p99 latency, ${label}`,
        measured: `${load.latencyMs.p99} ms (p50 ${load.latencyMs.p50}, max ${load.latencyMs.max})`,
        baseline: `bare node:http: ${bare.latencyMs.p99} ms`,
        ratio: undefined,
        target: info ? 'info' : '< 20 ms',
        verdict: info ? 'INFO' : verdict(load.latencyMs.p99 < 20),
        value: load.latencyMs.p99,
        baselineValue: bare.latencyMs.p99,
      });
      const failures = run.rounds.reduce((sum, round) => sum + round.errors + round.non2xx, 0);
      const total = run.rounds.reduce((sum, round) => sum + round.totalRequests, 0);
      rows.push({
        what: `${engine}: status errors + non2xx, ${label}`,
        measured: `${failures} of ${total} in all rounds`,
        baseline: '',
        ratio: undefined,
        target: '0',
        verdict: verdict(failures === 0),
        value: failures,
        baselineValue: undefined,
      });
      const hwm = Math.max(...run.rounds.map((round) => round.serverMemory.hwmMb));
      rows.push({
        what: `${engine}: server peak RSS under load, ${label}`,
        measured: `${hwm.toFixed(1)} MB (VmHWM)`,
        baseline: `bare node:http: ${bare.serverMemory.hwmMb.toFixed(1)} MB`,
        ratio: undefined,
        target: info ? 'info' : '< 200 MB',
        verdict: info ? 'INFO' : verdict(hwm < 200),
        value: hwm,
        baselineValue: bare.serverMemory.hwmMb,
      });
    };
    runRows(small, result.small.run, {
      baseline: `bare node:http: ${bare.requestsPerSecond.toFixed(0)} req/s (${cpu(bare)})`,
      baselineValue: bare.requestsPerSecond,
      min,
      target: `>= ${min} x bare node:http`,
    });
    runRows(large, result.large.run, {
      baseline: `${small}: ${result.small.run.load.requestsPerSecond.toFixed(0)} req/s`,
      baselineValue: result.small.run.load.requestsPerSecond,
      min: 0.9,
      target: `>= 0.9 x ${small}`,
    });
    const unsigned = result.small.run.load.requestsPerSecond;
    runRows(
      `${small} bound with device keys, signed (a new proof per request)`,
      result.signed.run,
      {
        baseline: `bare node:http: ${bare.requestsPerSecond.toFixed(0)} req/s (${cpu(bare)})`,
        baselineValue: bare.requestsPerSecond,
        min: SIGNED_TARGET,
        target: `>= ${SIGNED_TARGET} x bare node:http`,
      },
      'info',
    );
    const signedLoad = result.signed.run.load;
    rows.push({
      what: `${engine}: signed / unsigned client-key status req/s, ${small} (the proof's cost, not a target)`,
      measured: `${signedLoad.requestsPerSecond.toFixed(0)} req/s signed${result.nonceRows === undefined ? '' : `; proof_nonces rows after the runs: ${result.nonceRows} (one INSERT per accepted proof)`}`,
      baseline: `unsigned (legacy bindings): ${unsigned.toFixed(0)} req/s`,
      ratio: signedLoad.requestsPerSecond / unsigned,
      target: 'info',
      verdict: 'INFO',
      value: signedLoad.requestsPerSecond,
      baselineValue: unsigned,
    });
    runRows(
      `${small} server keys (unbound, no proof)`,
      result.serverKeys.run,
      {
        baseline: `${small} client keys, unsigned: ${unsigned.toFixed(0)} req/s`,
        baselineValue: unsigned,
        min: SERVER_KEY_TARGET,
        target: `>= ${SERVER_KEY_TARGET} x unsigned client keys`,
      },
      'info',
    );
    runRows(`${large} (not a target)`, result.wide, undefined);
    rows.push({
      what: `${engine}: seeding ${large} + devices (not a target)`,
      measured: `${result.large.seed.seconds.toFixed(2)} s (${(result.large.seed.dbBytes / 1048576).toFixed(1)} MB database)`,
      baseline: '',
      ratio: undefined,
      target: 'info',
      verdict: 'INFO',
      value: result.large.seed.seconds,
      baselineValue: undefined,
    });
  }
  for (const figures of server?.revocations ?? []) {
    const where =
      figures.instances > 1 ? `the other of ${figures.instances} instances` : 'the running server';
    rows.push({
      what: `${figures.engine}: revoke-key returned -> refused by ${where}`,
      measured: `p50 ${figures.refusalMs.p50.toFixed(2)} ms, p99 ${figures.refusalMs.p99.toFixed(2)} ms (${figures.rounds} revocations, ${figures.misses} accepted after return)`,
      baseline: '',
      ratio: undefined,
      target: 'the next request: 0 accepted',
      verdict: verdict(figures.misses === 0),
      value: figures.refusalMs.p50,
      baselineValue: undefined,
    });
    rows.push({
      what: `${figures.engine}: revoke-key wall time, node start-up included (not a target)`,
      measured: `p50 ${figures.commandMs.p50.toFixed(0)} ms, p99 ${figures.commandMs.p99.toFixed(0)} ms`,
      baseline: '',
      ratio: undefined,
      target: 'info',
      verdict: 'INFO',
      value: figures.commandMs.p50,
      baselineValue: undefined,
    });
  }
  return rows;
}

/** A plain-text table, columns padded to their widest cell. */
export function textTable(rows: readonly Row[]): string {
  const header = ['what', 'measured', 'baseline', 'ratio', 'target', 'result'];
  const cells = rows.map((row) => [
    row.what,
    row.measured,
    row.baseline,
    row.ratio === undefined ? '' : `${row.ratio.toFixed(2)} x`,
    row.target,
    row.verdict,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((line) => (line[column] ?? '').length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((value, column) => value.padEnd(widths[column] ?? 0))
      .join(' | ')
      .trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('-+-'), ...cells.map(line)].join('\n');
}

/** Issue 11, the dashboard: p99 at 8 connections for the keys list and the API Keys page. */
const DASHBOARD_P99_MS = 50;
/** The API Keys page's HTML, in bytes (150 KB, counted as 150,000 bytes: the stricter reading). */
const PAGE_MAX_BYTES = 150_000;

const bytes = (count: number) => `${count.toLocaleString('en-US')} bytes (${(count / 1024).toFixed(1)} KiB)`;

export function dashboardRows(
  dashboard: DashboardBenchResult | undefined,
  keys: number,
  connections: number,
  engines: readonly Engine[],
): Row[] {
  const many = `${keys.toLocaleString('en-US')} keys`;
  const listWhat = (engine: Engine) =>
    `${engine}: GET /api/v1/keys p99, first page of ${many} (Bearer token), ${connections} connections`;
  const pageWhat = (engine: Engine) =>
    `${engine}: API Keys page p99, first page of ${many} (session cookie), ${connections} connections`;
  const p99Target = `< ${DASHBOARD_P99_MS} ms`;
  if (dashboard === undefined) {
    return [
      ...engines.flatMap((engine) => [
        errorRow(listWhat(engine), p99Target),
        errorRow(pageWhat(engine), p99Target),
        errorRow(`${engine}: keys list and page errors + non2xx`, '0'),
      ]),
      errorRow(
        `API Keys page HTML, first page of ${many}`,
        `< ${PAGE_MAX_BYTES.toLocaleString('en-US')} bytes`,
      ),
    ];
  }
  const rows: Row[] = [];
  const latency = (run: LoadRun) => {
    const load = run.load;
    const rounds =
      run.rounds.length > 1
        ? `; p99 per round: ${run.rounds.map((round) => round.latencyMs.p99).join(' / ')} ms`
        : '';
    return `${load.latencyMs.p99} ms (p50 ${load.latencyMs.p50}, max ${load.latencyMs.max}; ${load.requestsPerSecond.toFixed(0)} req/s; ${cpu(load)}${rounds})`;
  };
  const bareText = (run: LoadRun, size: number) =>
    `bare node:http, ${size.toLocaleString('en-US')}-byte body: p99 ${run.load.latencyMs.p99} ms (p50 ${run.load.latencyMs.p50}), ${run.load.requestsPerSecond.toFixed(0)} req/s`;
  for (const engine of engines) {
    const result = dashboard[engine];
    if (result === undefined) {
      rows.push(errorRow(listWhat(engine), p99Target), errorRow(pageWhat(engine), p99Target));
      continue;
    }
    for (const [what, run, bare, size] of [
      [listWhat(engine), result.api, dashboard.bare.json, dashboard.bare.jsonBytes],
      [pageWhat(engine), result.page, dashboard.bare.page, dashboard.bare.pageBytes],
    ] as const) {
      rows.push({
        what,
        measured: latency(run),
        baseline: bareText(bare, size),
        ratio: undefined,
        target: p99Target,
        verdict: verdict(run.load.latencyMs.p99 < DASHBOARD_P99_MS),
        value: run.load.latencyMs.p99,
        baselineValue: bare.load.latencyMs.p99,
      });
    }
    const all = [...result.api.rounds, ...result.page.rounds];
    const failures = all.reduce((sum, round) => sum + round.errors + round.non2xx, 0);
    const total = all.reduce((sum, round) => sum + round.totalRequests, 0);
    rows.push({
      what: `${engine}: keys list and page errors + non2xx`,
      measured: `${failures} of ${total} in all rounds`,
      baseline: '',
      ratio: undefined,
      target: '0',
      verdict: verdict(failures === 0),
      value: failures,
      baselineValue: undefined,
    });
  }
  const reference = dashboard.sqlite.setup;
  const weight = reference.pageWeight;
  rows.push({
    what: `API Keys page HTML, first page of ${many}`,
    measured: `${bytes(weight.htmlBytes)}: ${weight.rows} rows, "${weight.showing}"`,
    baseline: `with its ${weight.assets.length} assets (${weight.assets.map((asset) => `${asset.path.replace('/assets/', '')} ${asset.bytes}`).join(', ')}): ${bytes(weight.totalBytes)}, sent ${weight.contentEncoding ?? 'uncompressed'}`,
    ratio: undefined,
    target: `< ${PAGE_MAX_BYTES.toLocaleString('en-US')} bytes`,
    verdict: verdict(weight.htmlBytes < PAGE_MAX_BYTES),
    value: weight.htmlBytes,
    baselineValue: weight.totalBytes,
  });
  rows.push({
    what: `GET /api/v1/keys answer, ${many} (not a target)`,
    measured: `${bytes(reference.jsonBytes)} of JSON, ${reference.jsonKeys} keys (${(reference.jsonBytes / reference.jsonKeys).toFixed(0)} bytes per key): the first page (the API's default of 100; "total" counts them all)`,
    baseline: '',
    ratio: undefined,
    target: 'info',
    verdict: 'INFO',
    value: reference.jsonBytes,
    baselineValue: undefined,
  });
  const scrypt = dashboard.scrypt;
  for (const engine of engines) {
    const result = dashboard[engine];
    if (result === undefined) continue;
    const signIn = result.signIn;
    const cpuText = (figures: AttemptFigures) =>
      figures.cpuMsPerAttempt < figures.cpuResolutionMs
        ? `< ${figures.cpuResolutionMs.toFixed(1)}`
        : figures.cpuMsPerAttempt.toFixed(figures.cpuMsPerAttempt < 10 ? 1 : 0);
    const attempt = (figures: AttemptFigures) =>
      `p50 ${figures.ms.p50.toFixed(figures.ms.p50 < 10 ? 1 : 0)} ms, server CPU ${cpuText(figures)} ms`;
    rows.push({
      what: `${engine}: sign-in cost per attempt, POST /api/v1/auth/login (not a target)`,
      measured: `right password: ${attempt(signIn.right)}; wrong: ${attempt(signIn.wrong)} (${signIn.right.attempts} + ${signIn.wrong.attempts}, one at a time, ${signIn.accounts} accounts on ${signIn.addresses.length} addresses); refused with 429 past the limits: ${attempt(signIn.refused)} (${signIn.refused.attempts})`,
      baseline: `verifyPassword alone (scrypt N=2^17), bench process: p50 ${scrypt.ms.p50.toFixed(0)} ms, CPU ${scrypt.cpuMsPerRun.toFixed(0)} ms (${scrypt.runs} runs)`,
      ratio: undefined,
      target: 'info',
      verdict: 'INFO',
      value: signIn.wrong.cpuMsPerAttempt,
      baselineValue: scrypt.cpuMsPerRun,
    });
    const cpuMs = (signIn.right.cpuMsPerAttempt + signIn.wrong.cpuMsPerAttempt) / 2;
    const perCore = 1000 / cpuMs;
    // 30 per address per 15 min: what it takes to keep one core busy with sign-ins.
    const addresses = Math.ceil(perCore / (30 / 900));
    rows.push({
      what: `${engine}: a flood of sign-ins (not a target)`,
      measured: `one core absorbs ${perCore.toFixed(1)} attempts/s (1 / CPU per attempt); ${signIn.burst.streams} clients at once: ${signIn.burst.attemptsPerSecond.toFixed(1)} attempts/s, server CPU ${signIn.burst.serverCpuPercent.toFixed(0)} %, server VmHWM ${signIn.burst.serverHwmMb.toFixed(0)} MB (before: ${signIn.serverHwmBeforeMb.toFixed(0)} MB; 128 MiB per scrypt in flight)`,
      baseline: `limits: 30 per address and 50 failures per account per 15 min, so one address adds at most 0.033 attempts/s: keeping one core busy takes ${addresses} addresses (IPv6: /64s); refusals cost ${cpuText(signIn.refused)} ms CPU`,
      ratio: undefined,
      target: 'info',
      verdict: 'INFO',
      value: perCore,
      baselineValue: undefined,
    });
  }
  return rows;
}

/** Profiles (issue 21): ten stored profiles against one, `status` judged (≤ 1.05 ×). */
export function profilesRows(result: ProfilesBenchResult | undefined): Row[] {
  if (result === undefined) return [errorRow('status with ten profiles against one', '<= 1.05 x')];
  const msOf = (name: string) => result.medians[name] ?? Number.NaN;
  const row = (command: 'status' | 'status --offline', ratio: number, judged: boolean): Row => ({
    what: `sekuire ${command}, ten profiles stored against one (${result.rounds} alternating rounds)`,
    measured: `${msOf(`ten profiles: ${command}`).toFixed(1)} ms median`,
    baseline: `one profile: ${msOf(`one profile: ${command}`).toFixed(1)} ms median`,
    ratio,
    target: judged ? `<= ${PROFILES_TARGET.toFixed(2)} x` : 'info',
    verdict: judged ? verdict(ratio <= PROFILES_TARGET) : 'INFO',
    value: msOf(`ten profiles: ${command}`),
    baselineValue: msOf(`one profile: ${command}`),
  });
  return [
    row('status', result.tenOverOne.status, true),
    row('status --offline', result.tenOverOne.offline, false),
  ];
}
const PROFILES_TARGET = 1.05;

/** Device-key stores (issue 22): each against the file store, paired per round; the agent's `status` judged (≤ +5 ms). */
export function keyStoreRows(result: KeyStoreBenchResult | undefined): Row[] {
  if (result === undefined)
    return [errorRow('status with each device-key store against the file store', 'agent <= +5 ms')];
  const medians = new Map(result.medians);
  const rows: Row[] = [];
  for (const [label, delta] of Object.entries(result.deltas)) {
    const fileLabel = label.startsWith('status --offline') ? 'status --offline (file)' : 'status (file)';
    const judged = label === 'status (agent)';
    rows.push({
      what: `sekuire ${label} against the file store (${result.rounds} alternating rounds, paired)`,
      measured: `${(medians.get(label) ?? Number.NaN).toFixed(1)} ms median, ${delta >= 0 ? '+' : ''}${delta.toFixed(1)} ms`,
      baseline: `${fileLabel}: ${(medians.get(fileLabel) ?? Number.NaN).toFixed(1)} ms median`,
      ratio: undefined,
      target: judged ? `<= +${AGENT_TARGET_MS} ms` : 'info',
      verdict: judged ? verdict(delta <= AGENT_TARGET_MS) : 'INFO',
      value: delta,
      baselineValue: medians.get(fileLabel),
    });
  }
  return rows;
}
const AGENT_TARGET_MS = 5;

/** Operations (issue: the request log at info >= 0.9 x, metrics >= 0.97 x both off); the control and the CPU a request as information. */
const OPS_TARGETS = { log: 0.9, metrics: 0.97 } as const;
/** Short names of the servers ops-bench.ts's OPS_VARIANTS starts; the method line has their flags. */
const OPS_LABELS: Readonly<Record<OpsVariant, string>> = {
  off: 'log silent, metrics off',
  control: 'both off again (control)',
  log: 'request log at info, metrics off',
  metrics: '--metrics, log silent',
};

export function opsRows(result: OpsBenchResult | undefined): Row[] {
  if (result === undefined) {
    return [
      errorRow('status req/s, request log at info against both off', `>= ${OPS_TARGETS.log} x`),
      errorRow('status req/s, --metrics against both off', `>= ${OPS_TARGETS.metrics} x`),
    ];
  }
  const rps = result.medianRequestsPerSecond;
  const cpuUs = result.cpuMicrosPerRequest;
  const roundsOf = (variant: OpsVariant) =>
    result.rounds[variant].map((load) => load.requestsPerSecond.toFixed(0)).join(' / ');
  const count = result.rounds.off.length;
  const baseline = `both off: ${rps.off.toFixed(0)} req/s (rounds ${roundsOf('off')})`;
  const rows: Row[] = [];
  for (const variant of ['control', 'log', 'metrics'] as const) {
    const min = variant === 'control' ? undefined : OPS_TARGETS[variant];
    const ratio = result.ratio[variant];
    rows.push({
      what: `status req/s, ${OPS_LABELS[variant]}, against both off (${count} rounds in turning order, medians)`,
      measured: `${rps[variant].toFixed(0)} req/s (rounds ${roundsOf(variant)}; per-round pairs ${result.pairedRatio[variant].toFixed(3)} x${variant === 'log' ? `; ${result.logBytesPerRequest} bytes of log a request` : ''})`,
      baseline,
      ratio,
      target: min === undefined ? 'info' : `>= ${min} x`,
      verdict: min === undefined ? 'INFO' : verdict(ratio >= min),
      value: rps[variant],
      baselineValue: rps.off,
    });
  }
  for (const variant of ['control', 'log', 'metrics'] as const) {
    rows.push({
      what: `server CPU a status request, ${OPS_LABELS[variant]} (ratio: both off / this)`,
      measured: `${cpuUs[variant].toFixed(1)} µs median`,
      baseline: `both off: ${cpuUs.off.toFixed(1)} µs`,
      ratio: result.cpuRatio[variant],
      target: 'info',
      verdict: 'INFO',
      value: cpuUs[variant],
      baselineValue: cpuUs.off,
    });
  }
  return rows;
}

/** Verification for other services: /verify >= 0.12 x bare node:http per engine; revoke-key -> refused p99 <= 1 s, none accepted after. */
const VERIFY_TARGET = 0.12;
const REVOCATION_P99_MS = 1_000;

export function verifyRows(result: VerifyBenchResult | undefined, engines: readonly Engine[]): Row[] {
  if (result === undefined) {
    return engines.flatMap((engine) => [
      errorRow(`${engine}: POST /api/v1/verify req/s`, `>= ${VERIFY_TARGET} x bare node:http`),
      errorRow(`${engine}: revoke-key returned -> refused behind sekuire-verify, p99`, '<= 1 s'),
      errorRow(`${engine}: requests accepted behind sekuire-verify after revoke-key returned`, '0'),
    ]);
  }
  const bare = result.targets.find((target) => target.kind === 'bare');
  const bareRps = bare?.requestsPerSecond ?? Number.NaN;
  const figures = (target: VerifyTargetFigures) =>
    `${target.requestsPerSecond.toFixed(0)} req/s (p50 ${target.p50Ms} ms, p99 ${target.p99Ms} ms, server CPU ${target.cpuUsPerRequest.toFixed(0)} µs a request, non-2xx ${target.non2xx}, errors ${target.errors}; rounds ${target.rounds.map((round) => round.rps.toFixed(0)).join(' / ')})`;
  const baseline =
    bare === undefined
      ? ''
      : `bare node:http (GET, 200 B): ${bare.requestsPerSecond.toFixed(0)} req/s (p99 ${bare.p99Ms} ms, ${bare.cpuUsPerRequest.toFixed(0)} µs a request)`;
  const rows: Row[] = [];
  for (const engine of engines) {
    const target = result.targets.find((each) => each.kind === 'verify' && each.engine === engine);
    if (target === undefined) {
      rows.push(errorRow(`${engine}: POST /api/v1/verify req/s`, `>= ${VERIFY_TARGET} x bare node:http`));
      continue;
    }
    const ratio = target.requestsPerSecond / bareRps;
    rows.push({
      what: `${engine}: POST /api/v1/verify req/s, a new proof per request (${result.rounds} alternating rounds, medians)`,
      measured: figures(target),
      baseline,
      ratio,
      target: `>= ${VERIFY_TARGET} x bare node:http`,
      verdict: verdict(ratio >= VERIFY_TARGET),
      value: target.requestsPerSecond,
      baselineValue: bareRps,
    });
  }
  for (const target of result.targets.filter((each) => each.kind === 'status')) {
    rows.push({
      what: `${target.engine ?? ''}: signed GET /api/v1/cli/status req/s, the same rounds (for comparison)`,
      measured: figures(target),
      baseline,
      ratio: target.requestsPerSecond / bareRps,
      target: 'info',
      verdict: 'INFO',
      value: target.requestsPerSecond,
      baselineValue: bareRps,
    });
  }
  for (const engine of engines) {
    const figures = result.revocations.find((each) => each.engine === engine);
    if (figures === undefined) {
      rows.push(
        errorRow(`${engine}: revoke-key returned -> refused behind sekuire-verify, p99`, '<= 1 s'),
        errorRow(`${engine}: requests accepted behind sekuire-verify after revoke-key returned`, '0'),
      );
      continue;
    }
    rows.push(
      {
        what: `${engine}: revoke-key returned -> refused behind sekuire-verify, p99`,
        measured: `p99 ${figures.p99Ms.toFixed(1)} ms (median ${figures.medianMs.toFixed(1)} ms, max ${figures.maxMs.toFixed(1)} ms; ${figures.ms.length} revocations)`,
        baseline: '',
        ratio: undefined,
        target: `<= ${REVOCATION_P99_MS / 1000} s`,
        verdict: verdict(figures.p99Ms <= REVOCATION_P99_MS),
        value: figures.p99Ms,
        baselineValue: undefined,
      },
      {
        what: `${engine}: requests accepted behind sekuire-verify after revoke-key returned`,
        measured: `${figures.violations} (in ${figures.ms.length} revocations)`,
        baseline: '',
        ratio: undefined,
        target: '0',
        verdict: verdict(figures.violations === 0),
        value: figures.violations,
        baselineValue: undefined,
      },
    );
  }
  return rows;
}
