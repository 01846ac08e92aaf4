// Start-up cost of the built CLI against `node -e 0`, and the peak RSS of `status`, using a local server.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDeviceKey } from '../../packages/cli/src/core/device-key.js';
import { proofHeaders } from '../../packages/cli/src/core/proof.js';
import { rawSql } from '../helpers/raw-sql.js';
import { STATUS_PATH } from './load.js';
import { type Resources, startArgs } from './processes.js';
import { median, percentile } from './stats.js';
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

/**
 * What shows that the timed `sekuire status` sends a signed request: the binding its login made
 * holds the device key of device-key.json, and the server refuses that key without a proof.
 */
export interface SignedStatusCheck {
  /** The thumbprint in device-key.json (readDeviceKey), in auth.json and in the devices row. */
  readonly deviceKeyJson: string | null;
  readonly authJson: string | null;
  readonly binding: string | null;
  /** GET status with the key and fingerprint but no proof: expected 401 proof_required. */
  readonly unsignedStatus: number;
  readonly unsignedCode: string | null;
  /** The same request signed with device-key.json's key: expected 200. */
  readonly signedStatus: number;
  /** All of the above as expected. */
  readonly ok: boolean;
}

/** Microseconds per request of the proof's own cost in the CLI, measured in this process. */
export interface ProofCost {
  readonly iterations: number;
  /** readDeviceKey: read device-key.json, parse it, import the private JWK. */
  readonly readUs: { readonly median: number; readonly p99: number };
  /** proofHeaders: digest, nonce, signature base, P-256 signature. */
  readonly signUs: { readonly median: number; readonly p99: number };
  readonly totalUs: { readonly median: number; readonly p99: number };
  /** The first iteration (cold code paths in this process): nearer what one CLI run pays. */
  readonly firstUs: number;
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
  readonly signedStatus: SignedStatusCheck;
  readonly proofCost: ProofCost;
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

async function checkSignedStatus(
  home: string,
  db: string,
  serverUrl: string,
  apiKey: string,
): Promise<SignedStatusCheck> {
  const deviceKey = readDeviceKey(home);
  const auth = JSON.parse(readFileSync(join(home, 'auth.json'), 'utf8')) as {
    key_id?: unknown;
    device_fingerprint?: unknown;
    device_key?: unknown;
  };
  const sql = rawSql(db);
  let binding: string | null = null;
  try {
    const row = await sql.get<{ key_thumbprint: string | null }>(
      'SELECT key_thumbprint FROM devices WHERE key_id = ? AND unbound_at IS NULL',
      [String(auth.key_id)],
    );
    binding = row?.key_thumbprint ?? null;
  } finally {
    await sql.close();
  }
  const url = new URL(STATUS_PATH, serverUrl);
  const headers = { 'x-api-key': apiKey, 'x-sekuire-device': String(auth.device_fingerprint) };
  const unsigned = await fetch(url, { headers });
  const unsignedBody = (await unsigned.json().catch(() => ({}))) as { error?: unknown };
  let signedStatus = 0;
  if (deviceKey !== undefined) {
    const proof = proofHeaders(deviceKey, 'GET', url, undefined, Date.now() / 1000);
    const signed = await fetch(url, { headers: { ...headers, ...proof } });
    await signed.arrayBuffer();
    signedStatus = signed.status;
  }
  const thumbprint = deviceKey?.thumbprint ?? null;
  const authJson = typeof auth.device_key === 'string' && auth.device_key !== '' ? auth.device_key : null;
  const unsignedCode = typeof unsignedBody.error === 'string' ? unsignedBody.error : null;
  return {
    deviceKeyJson: thumbprint,
    authJson,
    binding,
    unsignedStatus: unsigned.status,
    unsignedCode,
    signedStatus,
    ok:
      thumbprint !== null &&
      authJson === thumbprint &&
      binding === thumbprint &&
      unsigned.status === 401 &&
      unsignedCode === 'proof_required' &&
      signedStatus === 200,
  };
}

/**
 * What a signed request costs the CLI beyond an unsigned one: reading device-key.json (with
 * readDeviceKey, as the CLI does once per run) and making the proof headers. Measured here, in
 * this process, over many iterations; informational.
 */
function measureProofCost(home: string, serverUrl: string, iterations: number): ProofCost {
  const read: number[] = [];
  const sign: number[] = [];
  const total: number[] = [];
  const microseconds = (from: bigint, to: bigint) => Number(to - from) / 1e3;
  for (let i = 0; i < iterations; i++) {
    const started = process.hrtime.bigint();
    const key = readDeviceKey(home);
    const loaded = process.hrtime.bigint();
    if (key === undefined) throw new Error(`no device key in ${home}`);
    proofHeaders(key, 'GET', new URL(STATUS_PATH, serverUrl), undefined, Date.now() / 1000);
    const done = process.hrtime.bigint();
    read.push(microseconds(started, loaded));
    sign.push(microseconds(loaded, done));
    total.push(microseconds(started, done));
  }
  const figures = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { median: median(sorted), p99: percentile(sorted, 0.99) };
  };
  return {
    iterations,
    readUs: figures(read),
    signUs: figures(sign),
    totalUs: figures(total),
    firstUs: total[0] ?? Number.NaN,
  };
}

export async function cliBench(resources: Resources, options: CliBenchOptions): Promise<CliBenchResult> {
  const dir = await resources.tempDir('sekuire-bench-cli-');
  try {
    const node = process.execPath;
    const serverEnv = { ...options.baseEnv };
    const db = join(dir, 'cli.db');
    const server = await resources.startServer(
      'sekuire-server (CLI timings)',
      startArgs(options.serverPath, db),
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

      const home = join(dir, 'home');
      const env: NodeJS.ProcessEnv = {
        ...options.baseEnv,
        SEKUIRE_HOME: home,
        SEKUIRE_MACHINE_ID: 'bench',
        SEKUIRE_BACKEND_URL: server.url,
        NO_COLOR: '1',
      };
      const cli = (...args: string[]) => [node, options.cliPath, ...args];
      // One login creates the stored credentials; each command must succeed before it is timed.
      runOnce(cli('login', '--with-key'), env, `${created.key}\n`);
      for (const argv of [cli('--version'), cli('status', '--offline'), cli('status')]) runOnce(argv, env);
      // The login must have bound the key with this home's device key, so status is signed.
      const signedStatus = await checkSignedStatus(home, db, server.url, created.key);
      process.stderr.write(
        `bench: CLI status signed: ${signedStatus.ok ? 'yes' : 'NO'} (binding key_thumbprint ${signedStatus.binding ?? 'null'}, device-key.json ${signedStatus.deviceKeyJson ?? 'none'}; unsigned GET ${signedStatus.unsignedStatus} ${signedStatus.unsignedCode ?? ''}, signed GET ${signedStatus.signedStatus})\n`,
      );
      const proofCost = measureProofCost(home, server.url, Math.max(500, options.runs * 100));
      process.stderr.write(
        `bench: proof cost per request: ${proofCost.totalUs.median.toFixed(0)} µs median (read ${proofCost.readUs.median.toFixed(0)} µs, sign ${proofCost.signUs.median.toFixed(0)} µs; first ${proofCost.firstUs.toFixed(0)} µs)\n`,
      );

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
        signedStatus,
        proofCost,
      };
    } finally {
      await resources.stop(server.child);
    }
  } finally {
    await resources.removeDir(dir);
  }
}
