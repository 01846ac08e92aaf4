// Spawns the built CLI (dist/cli.cjs) with a temp SEKUIRE_HOME and HOME, stdin closed unless given.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The bundle under test: dist/cli.cjs, or SEKUIRE_TEST_CLI (e.g. an older build, to watch a
 * regression test fail before its fix).
 */
export const CLI_PATH =
  process.env.SEKUIRE_TEST_CLI ?? resolve(import.meta.dirname, '../../packages/cli/dist/cli.cjs');

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (throws when it is not). */
  json<T = Record<string, unknown>>(): T;
  /** stdout split into lines, without the final empty one. */
  lines(): string[];
}

export interface CliOptions {
  /** Written to stdin, then stdin is closed; stdin is closed at once when absent. */
  readonly input?: string;
  readonly env?: Record<string, string | undefined>;
  readonly timeoutMs?: number;
  /** Run as this user (and group); the scratch directory must be theirs to use. */
  readonly uid?: number;
  readonly cwd?: string;
  /** Where stdout goes: a pipe (default) or a file descriptor, e.g. one opened on /dev/full. */
  readonly stdout?: number;
}

const HOSTNAME_PRELOAD = resolve(import.meta.dirname, 'hostname-preload.cjs');

/**
 * The environment under which the CLI takes `name` for the host name (its device name): two
 * scratch machines on one host, told apart on a page the way two computers would be.
 */
export function hostnameEnv(name: string): Record<string, string> {
  return { NODE_OPTIONS: `--require ${HOSTNAME_PRELOAD}`, TEST_HOSTNAME: name };
}

/** A scratch machine: its own SEKUIRE_HOME, HOME and machine ID. */
export class Machine {
  readonly dir: string;
  readonly home: string;
  private readonly running: RunningCli[] = [];
  constructor(
    readonly machineId: string,
    readonly baseEnv: Record<string, string | undefined> = {},
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'sekuire-e2e-'));
    this.home = join(this.dir, 'sekuire-home');
  }

  get authFile(): string {
    return join(this.home, 'auth.json');
  }

  run(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
    return runCli(args, this.options(options));
  }

  /** Starts a command that keeps running (a login waiting for a browser): its output as it comes. */
  start(args: readonly string[], options: CliOptions = {}): RunningCli {
    const running = startCli(args, this.options(options));
    this.running.push(running);
    return running;
  }

  private options(options: CliOptions): CliOptions {
    return {
      ...options,
      env: {
        HOME: this.dir,
        SEKUIRE_HOME: this.home,
        SEKUIRE_MACHINE_ID: this.machineId,
        ...this.baseEnv,
        ...options.env,
      },
    };
  }

  /** Ends what start() left running (a test that failed half-way), then removes the machine. */
  cleanup(): void {
    for (const running of this.running.splice(0)) running.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The variables a developer's shell may set that would change what the CLI does. */
const SCRUBBED = [
  'SEKUIRE_API_KEY',
  'SEKUIRE_BACKEND_URL',
  'SEKUIRE_WEB_URL',
  'SEKUIRE_HOME',
  'SEKUIRE_MACHINE_ID',
  'SEKUIRE_TIMEOUT',
  'SEKUIRE_CONNECT_TIMEOUT',
  'SEKUIRE_RETRIES',
  'SEKUIRE_AUDIENCES',
  'SEKUIRE_DEBUG',
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'ALL_PROXY',
  'all_proxy',
  'NO_PROXY',
  'no_proxy',
  'NODE_OPTIONS',
  'NO_COLOR',
  'FORCE_COLOR',
];

/** A command still running: what it wrote so far, the first match of a pattern, its end. */
export interface RunningCli {
  readonly pid: number | undefined;
  stdout(): string;
  stderr(): string;
  /**
   * The first match of `pattern` in everything the stream carried so far, as soon as it is
   * there. Rejects, with the output, when the process ends without it or `timeoutMs` passes
   * (a guard against a hang, not a measure: no test asserts how long anything takes).
   */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends a signal (SIGINT: what Ctrl+C sends). */
  kill(signal: NodeJS.Signals): void;
  /** The whole run once the process has exited (rejects when it outlives options.timeoutMs). */
  readonly done: Promise<CliRun>;
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  return startCli(args, options).done;
}

export function startCli(args: readonly string[], options: CliOptions = {}): RunningCli {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !SCRUBBED.includes(name)) env[name] = value;
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env,
    stdio: ['pipe', options.stdout ?? 'pipe', 'pipe'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  });
  const output = { stdout: '', stderr: '' };
  interface Waiter {
    readonly pattern: RegExp;
    readonly stream: 'stdout' | 'stderr';
    readonly resolve: (match: RegExpExecArray) => void;
    readonly reject: (error: Error) => void;
  }
  let waiters: Waiter[] = [];
  let ended: string | undefined;
  const shown = () => `\nstdout: ${output.stdout}\nstderr: ${output.stderr}`;
  const check = () => {
    waiters = waiters.filter((waiter) => {
      const match = waiter.pattern.exec(output[waiter.stream]);
      if (match !== null) waiter.resolve(match);
      else if (ended !== undefined) waiter.reject(new Error(`${ended} before ${waiter.pattern}${shown()}`));
      return match === null && ended === undefined;
    });
  };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
    check();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
    check();
  });
  const done = new Promise<CliRun>((resolvePromise, reject) => {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sekuire ${args.join(' ')} did not exit within ${timeoutMs} ms${shown()}`));
    }, timeoutMs);
    child.on('error', (error) => {
      ended = `sekuire ${args.join(' ')} failed (${error.message})`;
      check();
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      ended = `sekuire ${args.join(' ')} exited (code ${code}, signal ${signal})`;
      check();
      const { stdout, stderr } = output;
      resolvePromise({
        code,
        signal,
        stdout,
        stderr,
        json: <T>() => JSON.parse(stdout) as T,
        lines: () => stdout.replace(/\n$/, '').split('\n'),
      });
    });
  });
  child.stdin?.on('error', () => {});
  child.stdin?.end(options.input ?? '');
  return {
    pid: child.pid,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    waitFor(pattern, stream = 'stderr', timeoutMs = 30_000) {
      return new Promise<RegExpExecArray>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((waiter) => waiter.pattern !== pattern);
          reject(new Error(`no ${pattern} on ${stream} within ${timeoutMs} ms${shown()}`));
        }, timeoutMs);
        waiters.push({
          pattern,
          stream,
          resolve: (match) => {
            clearTimeout(timer);
            resolve(match);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        check();
      });
    },
    kill(signal) {
      child.kill(signal);
    },
    done,
  };
}
