// Spawns the built CLI (dist/cli.cjs) with a temp SEKUIRE_HOME and HOME, stdin closed unless given.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The bundle under test: dist/cli.cjs, or SEKUIRE_TEST_CLI (e.g. an older build, to watch a
 * regression test fail before its fix).
 */
export const CLI_PATH = process.env.SEKUIRE_TEST_CLI ?? resolve(import.meta.dirname, '../../dist/cli.cjs');

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

/** A scratch machine: its own SEKUIRE_HOME, HOME and machine ID. */
export class Machine {
  readonly dir: string;
  readonly home: string;
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
    return runCli(args, {
      ...options,
      env: {
        HOME: this.dir,
        SEKUIRE_HOME: this.home,
        SEKUIRE_MACHINE_ID: this.machineId,
        ...this.baseEnv,
        ...options.env,
      },
    });
  }

  cleanup(): void {
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

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !SCRUBBED.includes(name)) env[name] = value;
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      env,
      stdio: ['pipe', options.stdout ?? 'pipe', 'pipe'],
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timeoutMs = options.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `sekuire ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout,
        stderr,
        json: <T>() => JSON.parse(stdout) as T,
        lines: () => stdout.replace(/\n$/, '').split('\n'),
      });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input ?? '');
  });
}
