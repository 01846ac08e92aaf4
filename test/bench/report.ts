// The targets of the performance issue as rows: measured figure, baseline, ratio, target, PASS/MISS.
import type { CliBenchResult } from './cli-bench.js';
import type { LoadFigures } from './load.js';
import type { LoadRun, ServerBenchResult } from './server-bench.js';
import type { CommandTiming } from './timing.js';

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
  `CPU server ${load.cpuPercent.server.toFixed(0)} %, autocannon ${load.cpuPercent.loadGenerator.toFixed(0)} %`;

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

function startupRow(what: string, command: CommandTiming, baseline: CommandTiming, maxRatio: number): Row {
  const ratio = command.ms.mean / baseline.ms.mean;
  return {
    what,
    measured: ms(command),
    baseline: `${baseline.name}: ${ms(baseline)}`,
    ratio,
    target: `<= ${maxRatio.toFixed(1)} x`,
    verdict: verdict(ratio <= maxRatio),
    value: command.ms.mean,
    baselineValue: baseline.ms.mean,
  };
}

export function cliRows(cli: CliBenchResult | undefined): Row[] {
  const startup: [string, number][] = [
    ['sekuire --version', 1.3],
    ['sekuire status --offline', 1.4],
    ['sekuire status (local server)', 2.0],
    ['sekuire login --with-key (local server)', 2.5],
  ];
  const rssTarget = '< 80 MB';
  if (cli === undefined) {
    return [
      ...startup.map(([what, ratio]) => errorRow(what, `<= ${ratio.toFixed(1)} x`)),
      errorRow('sekuire status peak RSS', rssTarget),
    ];
  }
  const rows = [
    startupRow('sekuire --version', cli.version, cli.baseline, 1.3),
    startupRow('sekuire status --offline', cli.statusOffline, cli.baseline, 1.4),
    startupRow('sekuire status (local server)', cli.status, cli.baseline, 2.0),
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

export function serverRows(
  server: ServerBenchResult | undefined,
  smallKeys: number,
  largeKeys: number,
): Row[] {
  const small = `${smallKeys.toLocaleString('en-US')} keys`;
  const large = `${largeKeys.toLocaleString('en-US')} keys`;
  const smallRun = server?.small.runs[0];
  const largeRun = server?.large.runs[0];
  if (server === undefined || smallRun === undefined || largeRun === undefined) {
    return [
      errorRow(`server status req/s, ${small}`, '>= 0.4 x bare node:http'),
      errorRow(`server status p99 latency, ${small}`, '< 20 ms'),
      errorRow(`server status errors + non2xx, ${small}`, '0'),
      errorRow(`server peak RSS under load, ${small}`, '< 200 MB'),
      errorRow(`server status req/s, ${large}`, `>= 0.9 x ${small}`),
      errorRow(`server status p99 latency, ${large}`, '< 20 ms'),
      errorRow(`server status errors + non2xx, ${large}`, '0'),
      errorRow(`server peak RSS under load, ${large}`, '< 200 MB'),
    ];
  }
  const bare = server.bare.load;
  const rows: Row[] = [];
  const runRows = (
    label: string,
    run: LoadRun,
    reqs: { baseline: string; baselineValue: number; min: number; target: string } | undefined,
  ) => {
    const load = run.load;
    const judge = (pass: boolean): Verdict => (reqs === undefined ? 'INFO' : verdict(pass));
    const ratio = reqs === undefined ? undefined : load.requestsPerSecond / reqs.baselineValue;
    rows.push({
      what: `server status req/s, ${label}, ${run.rotation} keys in rotation`,
      measured: `${load.requestsPerSecond.toFixed(0)} req/s (sd ${load.requestsPerSecondStddev.toFixed(0)}; ${cpu(load)})`,
      baseline: reqs?.baseline ?? '',
      ratio,
      target: reqs?.target ?? 'info',
      verdict: judge(ratio !== undefined && reqs !== undefined && ratio >= reqs.min),
      value: load.requestsPerSecond,
      baselineValue: reqs?.baselineValue,
    });
    rows.push({
      what: `server status p99 latency, ${label}`,
      measured: `${load.latencyMs.p99} ms (p50 ${load.latencyMs.p50}, max ${load.latencyMs.max})`,
      baseline: label === small ? `bare node:http: ${bare.latencyMs.p99} ms` : '',
      ratio: undefined,
      target: reqs === undefined ? 'info' : '< 20 ms',
      verdict: judge(load.latencyMs.p99 < 20),
      value: load.latencyMs.p99,
      baselineValue: label === small ? bare.latencyMs.p99 : undefined,
    });
    const failures = load.errors + load.non2xx;
    rows.push({
      what: `server status errors + non2xx, ${label}`,
      measured: `${failures} of ${load.totalRequests} (errors ${load.errors}, timeouts ${load.timeouts}, non2xx ${load.non2xx})`,
      baseline: '',
      ratio: undefined,
      target: reqs === undefined ? 'info' : '0',
      verdict: judge(failures === 0),
      value: failures,
      baselineValue: undefined,
    });
    rows.push({
      what: `server peak RSS under load, ${label}`,
      measured: `${load.serverMemory.hwmMb.toFixed(1)} MB (VmHWM; sampled VmRSS peak ${load.serverMemory.peakRssMb.toFixed(1)})`,
      baseline: label === small ? `bare node:http: ${server.bare.load.serverMemory.hwmMb.toFixed(1)} MB` : '',
      ratio: undefined,
      target: reqs === undefined ? 'info' : '< 200 MB',
      verdict: judge(load.serverMemory.hwmMb < 200),
      value: load.serverMemory.hwmMb,
      baselineValue: label === small ? server.bare.load.serverMemory.hwmMb : undefined,
    });
  };
  runRows(small, smallRun, {
    baseline: `bare node:http: ${bare.requestsPerSecond.toFixed(0)} req/s (${cpu(bare)})`,
    baselineValue: bare.requestsPerSecond,
    min: 0.4,
    target: '>= 0.4 x bare node:http',
  });
  runRows(large, largeRun, {
    baseline: `${small}: ${smallRun.load.requestsPerSecond.toFixed(0)} req/s`,
    baselineValue: smallRun.load.requestsPerSecond,
    min: 0.9,
    target: `>= 0.9 x ${small}`,
  });
  const wide = server.large.runs[1];
  if (wide !== undefined) {
    rows.push({
      what: `server status req/s, ${large}, ${wide.rotation} keys in rotation (not a target)`,
      measured: `${wide.load.requestsPerSecond.toFixed(0)} req/s (p99 ${wide.load.latencyMs.p99} ms, ${wide.load.errors + wide.load.non2xx} failed, RSS ${wide.load.serverMemory.hwmMb.toFixed(1)} MB)`,
      baseline: `${small}: ${smallRun.load.requestsPerSecond.toFixed(0)} req/s`,
      ratio: wide.load.requestsPerSecond / smallRun.load.requestsPerSecond,
      target: 'info',
      verdict: 'INFO',
      value: wide.load.requestsPerSecond,
      baselineValue: smallRun.load.requestsPerSecond,
    });
  }
  rows.push({
    what: `seeding ${large} + devices (not a target)`,
    measured: `${server.large.seed.seconds.toFixed(2)} s (${(server.large.seed.dbBytes / 1048576).toFixed(1)} MB database)`,
    baseline: '',
    ratio: undefined,
    target: 'info',
    verdict: 'INFO',
    value: server.large.seed.seconds,
    baselineValue: undefined,
  });
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
