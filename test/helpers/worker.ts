// Runs test/helpers/credentials-worker.ts in a child process, optionally as another user.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '../..');
const SOURCE = resolve(import.meta.dirname, 'credentials-worker.ts');

let bundled: string | undefined;

/**
 * The worker as one plain JavaScript file, built once per test process: Node starts it in
 * ~50 ms, where loading TypeScript through tsx costs ~0.7 s of CPU per child (ten children at
 * once make that a noticeable part of the suite on two cores). It is left in the run's temp
 * folder, which test/global-setup.ts removes after the run: an afterAll here would belong only
 * to the first file of a worker that runs several files without isolation.
 */
function worker(): string {
  if (bundled) return bundled;
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-worker-'));
  // Readable by the unprivileged user some tests run the worker as.
  chmodSync(dir, 0o755);
  const outfile = join(dir, 'credentials-worker.mjs');
  buildSync({
    entryPoints: [SOURCE],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'error',
    define: { __SEKUIRE_VERSION__: JSON.stringify('test') },
  });
  chmodSync(outfile, 0o644);
  bundled = outfile;
  return outfile;
}

/** The unprivileged user (nobody) that permission tests run as; we run as root. */
export const NOBODY = 65534;

export interface WorkerOptions {
  /** Run as this uid (and the same gid). */
  readonly uid?: number;
  readonly env?: Record<string, string>;
  /** runWorker only: kill the child after this long (a hang is then reported, not waited on). */
  readonly timeoutMs?: number;
}

export interface WorkerExit {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnArgs(args: readonly string[]): string[] {
  return [worker(), ...args];
}

function spawnOptions(options: WorkerOptions) {
  return {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  };
}

/** The last JSON line the worker printed. */
export function lastJson<T = Record<string, unknown>>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '') as T;
}

export function runWorker(args: readonly string[], options: WorkerOptions = {}): WorkerExit {
  const result = spawnSync(process.execPath, spawnArgs(args), {
    ...spawnOptions(options),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 20_000,
  });
  // A timeout shows as signal SIGTERM; any other failure to spawn is the test's problem.
  if (result.error && (result.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw result.error;
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

export interface RunningWorker {
  readonly pid: number;
  readonly exited: Promise<WorkerExit>;
  /** Resolves once stdout contains text. */
  output(text: string): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

export function startWorker(args: readonly string[], options: WorkerOptions = {}): RunningWorker {
  const child = spawn(process.execPath, spawnArgs(args), { ...spawnOptions(options), stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of waiters) if (stdout.includes(waiter.text)) waiter.resolve();
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<WorkerExit>((done, fail) => {
    child.on('error', fail);
    child.on('close', (status, signal) => done({ status, signal, stdout, stderr }));
  });
  if (child.pid === undefined) throw new Error('the worker did not start');
  return {
    pid: child.pid,
    exited,
    output: (text) =>
      new Promise<void>((done, fail) => {
        if (stdout.includes(text)) return done();
        waiters.push({ text, resolve: done });
        void exited.then((exit) => {
          if (!exit.stdout.includes(text)) fail(new Error(`worker exited without "${text}": ${exit.stderr}`));
        });
      }),
    kill: (signal) => {
      child.kill(signal);
    },
  };
}
