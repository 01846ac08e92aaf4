// Start-up cost of the built CLI against `node -e 0`, and the peak RSS of `status`, using a local server.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resources } from './processes.js';
import { median } from './stats.js';
import { type CommandTiming, commandLine, shellQuote, type TimedCommand, type Timer } from './timing.js';

export interface CliBenchOptions {
  readonly cliPath: string;
  readonly serverPath: string;
  readonly timer: Timer;
  /** hyperfine knows --input (1.17+); otherwise login runs under `sh -c '… < keyfile'`. */
  readonly timerHasInput: boolean;
  /** /usr/bin/time, for peak RSS; undefined when unavailable. */
  readonly gnuTime: string | undefined;
  readonly warmup: number;
  readonly runs: number;
  readonly rssRuns: number;
  /** The environment without any SEKUIRE_* variable of the caller's. */
  readonly baseEnv: NodeJS.ProcessEnv;
}

export interface RssFigures {
  /** kB per run, in order. */
  readonly statusKb: number[];
  readonly baselineKb: number[];
  readonly statusMedianMb: number;
  readonly baselineMedianMb: number;
}

export interface CliBenchResult {
  readonly timer: Timer['kind'];
  /** How login got its key on stdin. */
  readonly loginStdin: string;
  readonly baseline: CommandTiming;
  readonly version: CommandTiming;
  readonly statusOffline: CommandTiming;
  readonly status: CommandTiming;
  readonly loginBaseline: CommandTiming;
  readonly login: CommandTiming;
  readonly rss: RssFigures | undefined;
  readonly rssNote: string;
}

function runOnce(argv: readonly string[], env: NodeJS.ProcessEnv, input?: string): string {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty command');
  const result = spawnSync(file, args, { env, encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  if (result.status !== 0) {
    throw new Error(
      `${commandLine(argv)} exited with ${result.status} (${result.signal ?? 'no signal'})\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

function peakRssKb(
  gnuTime: string,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  outFile: string,
): number {
  const result = spawnSync(gnuTime, ['-f', '%M', '-o', outFile, ...argv], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (result.status !== 0) throw new Error(`${commandLine(argv)} under time exited with ${result.status}`);
  const kb = Number(readFileSync(outFile, 'utf8').trim().split('\n').pop());
  if (!Number.isFinite(kb)) throw new Error(`cannot read the peak RSS written by ${gnuTime}`);
  return kb;
}

export async function cliBench(resources: Resources, options: CliBenchOptions): Promise<CliBenchResult> {
  const dir = await resources.tempDir('sekuire-bench-cli-');
  try {
    const node = process.execPath;
    const serverEnv = { ...options.baseEnv };
    const db = join(dir, 'cli.db');
    const server = await resources.startServer(
      'sekuire-server (CLI timings)',
      [options.serverPath, 'start', '--host', '127.0.0.1', '--port', '0', '--db', db],
      serverEnv,
    );
    try {
      const created = JSON.parse(
        runOnce(
          [node, options.serverPath, 'create-key', '--db', db, '--email', 'bench@example.com', '--json'],
          serverEnv,
        ),
      ) as { key?: unknown };
      if (typeof created.key !== 'string') throw new Error('create-key --json printed no "key"');
      const keyFile = join(dir, 'key.txt');
      writeFileSync(keyFile, `${created.key}\n`, { mode: 0o600 });

      const env: NodeJS.ProcessEnv = {
        ...options.baseEnv,
        SEKUIRE_HOME: join(dir, 'home'),
        SEKUIRE_MACHINE_ID: 'bench',
        SEKUIRE_BACKEND_URL: server.url,
        NO_COLOR: '1',
      };
      const cli = (...args: string[]) => [node, options.cliPath, ...args];
      // One login creates the stored credentials; each command must succeed before it is timed.
      runOnce(cli('login', '--with-key'), env, `${created.key}\n`);
      for (const argv of [cli('--version'), cli('status', '--offline'), cli('status')]) runOnce(argv, env);

      const timingOptions = { warmup: options.warmup, runs: options.runs, env };
      const plain: TimedCommand[] = [
        { name: 'node -e 0', argv: [node, '-e', '0'] },
        { name: 'sekuire --version', argv: cli('--version') },
        { name: 'sekuire status --offline', argv: cli('status', '--offline') },
        { name: 'sekuire status', argv: cli('status') },
      ];
      process.stderr.write(`bench: timing CLI start-up (${options.timer.kind})\n`);
      const [baseline, version, statusOffline, status] = options.timer.time(plain, timingOptions);

      let loginStdin: string;
      let loginTimings: CommandTiming[];
      if (options.timer.kind === 'hyperfine' && !options.timerHasInput) {
        // This hyperfine has no --input: both commands pay the same shell, so the ratio is fair.
        loginStdin = "sh -c '… < keyfile' (hyperfine has no --input); baseline sh -c 'node -e 0 < keyfile'";
        const viaShell = (argv: readonly string[]) => [
          '/bin/sh',
          '-c',
          `${commandLine(argv)} < ${shellQuote(keyFile)}`,
        ];
        loginTimings = options.timer.time(
          [
            { name: "sh -c 'node -e 0'", argv: viaShell([node, '-e', '0']) },
            { name: 'sekuire login --with-key', argv: viaShell(cli('login', '--with-key')) },
          ],
          timingOptions,
        );
      } else {
        loginStdin =
          options.timer.kind === 'hyperfine'
            ? 'hyperfine --input keyfile'
            : 'stdin opened on keyfile per run';
        loginTimings = options.timer.time(
          [
            { name: 'node -e 0 (stdin keyfile)', argv: [node, '-e', '0'] },
            { name: 'sekuire login --with-key', argv: cli('login', '--with-key') },
          ],
          { ...timingOptions, stdinFile: keyFile },
        );
      }
      const [loginBaseline, login] = loginTimings;
      if (
        baseline === undefined ||
        version === undefined ||
        statusOffline === undefined ||
        status === undefined ||
        loginBaseline === undefined ||
        login === undefined
      ) {
        throw new Error('missing timings');
      }

      let rss: RssFigures | undefined;
      let rssNote: string;
      if (options.gnuTime === undefined) {
        rssNote = 'not measured: GNU time (/usr/bin/time) is unavailable';
      } else {
        const outFile = join(dir, 'time.txt');
        const statusKb: number[] = [];
        const baselineKb: number[] = [];
        for (let i = 0; i < options.rssRuns; i++) {
          statusKb.push(peakRssKb(options.gnuTime, cli('status'), env, outFile));
          baselineKb.push(peakRssKb(options.gnuTime, [node, '-e', '0'], env, outFile));
        }
        rss = {
          statusKb,
          baselineKb,
          statusMedianMb: median(statusKb) / 1024,
          baselineMedianMb: median(baselineKb) / 1024,
        };
        rssNote = `/usr/bin/time -f %M, median of ${options.rssRuns} runs`;
      }
      return {
        timer: options.timer.kind,
        loginStdin,
        baseline,
        version,
        statusOffline,
        status,
        loginBaseline,
        login,
        rss,
        rssNote,
      };
    } finally {
      await resources.stop(server.child);
    }
  } finally {
    await resources.removeDir(dir);
  }
}
