// Long-running child processes (servers) and temp dirs, each stopped or removed by the bench itself.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 3_000;

export interface Server {
  readonly label: string;
  readonly pid: number;
  /** From the first stdout line "Listening on URL". */
  readonly url: string;
  readonly child: ChildProcess;
  /** The end of its standard error: the last 8,000 characters (with a log file, bytes). */
  stderr(): string;
  /** Bytes of standard error so far (with a log file: all of them; else of the last 8,000 characters). */
  stderrBytes(): number;
}

/** The last `bytes` bytes of a file, as text. */
function tail(path: string, bytes: number): string {
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const buffer = Buffer.alloc(Math.min(size, bytes));
    readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** `sekuire-server start` on 127.0.0.1, a port the system picks, the database `db`; then `extra`. */
export function startArgs(serverPath: string, db: string, ...extra: readonly string[]): string[] {
  return [serverPath, 'start', '--host', '127.0.0.1', '--port', '0', '--db', db, ...extra];
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Everything the bench starts, so one finally block can take it all down. */
export class Resources {
  private readonly children = new Set<ChildProcess>();
  private readonly dirs = new Set<string>();

  /** A directory made elsewhere that releaseAll must remove. */
  adoptDir(dir: string): void {
    this.dirs.add(dir);
  }

  async tempDir(prefix: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.dirs.add(dir);
    return dir;
  }

  /**
   * Spawns `node args…` and waits for its "Listening on URL" line. Its standard error is read by
   * the bench, or, with `logFile`, by a `cat` of its own that writes it there: a log collector in
   * a process of its own, as journald or a container runtime is, not in the load generator's.
   */
  async startServer(
    label: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    options: { readonly logFile?: string } = {},
  ): Promise<Server> {
    const logFile = options.logFile;
    let reader: ChildProcess | undefined;
    if (logFile !== undefined) {
      const fd = openSync(logFile, 'a');
      try {
        reader = spawn('cat', [], { stdio: ['pipe', fd, 'inherit'] });
      } finally {
        closeSync(fd);
      }
      this.children.add(reader);
    }
    const child = spawn(process.execPath, args, {
      env,
      stdio: ['ignore', 'pipe', reader?.stdin ?? 'pipe'],
    });
    this.children.add(child);
    if (reader !== undefined) {
      // The server holds the pipe now; when it exits, cat reads the end and exits too.
      reader.stdin?.destroy();
      child.once('exit', () => this.children.delete(reader));
    }
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8_000);
    });
    const readStderr = logFile === undefined ? () => stderr : () => tail(logFile, 8_000);
    const url = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      const finish = (error?: Error, found?: string) => {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        child.off('error', onError);
        // Keep draining stdout so the server never blocks on a full pipe.
        child.stdout?.resume();
        if (error !== undefined) reject(error);
        else resolve(found ?? '');
      };
      const onData = (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        const match = /^Listening on (\S+)\r?\n/m.exec(stdout);
        if (match?.[1] !== undefined) finish(undefined, match[1]);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        finish(
          new Error(`${label} exited before listening (code ${code}, signal ${signal}): ${readStderr()}`),
        );
      const onError = (error: Error) => finish(new Error(`${label} did not start: ${error.message}`));
      const timer = setTimeout(
        () =>
          finish(
            new Error(`${label}: no "Listening on" line within ${START_TIMEOUT_MS} ms: ${readStderr()}`),
          ),
        START_TIMEOUT_MS,
      );
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
      child.once('error', onError);
    }).catch(async (error: unknown) => {
      await this.stop(child);
      throw error;
    });
    if (child.pid === undefined) throw new Error(`${label} has no pid`);
    return {
      label,
      pid: child.pid,
      url,
      child,
      stderr: readStderr,
      stderrBytes: logFile === undefined ? () => Buffer.byteLength(stderr) : () => statSync(logFile).size,
    };
  }

  /** SIGTERM to this child's pid, SIGKILL after a grace period. */
  async stop(child: ChildProcess): Promise<void> {
    this.children.delete(child);
    if (exited(child) || child.pid === undefined) return;
    const pid = child.pid;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (!exited(child)) process.kill(pid, 'SIGKILL');
      }, STOP_GRACE_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      process.kill(pid, 'SIGTERM');
    });
  }

  async removeDir(dir: string): Promise<void> {
    this.dirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
  }

  async releaseAll(): Promise<void> {
    await Promise.all([...this.children].map((child) => this.stop(child)));
    await Promise.all([...this.dirs].map((dir) => this.removeDir(dir)));
  }

  /** Synchronous last resort (process exit): SIGKILL what is left; dirs stay. */
  killAllNow(): void {
    for (const child of this.children) {
      if (!exited(child) && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }
  }
}

export interface MemorySample {
  /** kB, from /proc/<pid>/status. */
  readonly rssKb: number;
  readonly hwmKb: number;
}

export function readMemory(pid: number): MemorySample | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** Samples a process's memory every intervalMs until stopped; peak RSS seen and the kernel's high-water mark. */
export function sampleMemory(pid: number, intervalMs = 500) {
  let peakRssKb = 0;
  let hwmKb = 0;
  let samples = 0;
  const take = () => {
    const sample = readMemory(pid);
    if (sample === undefined) return;
    samples += 1;
    if (sample.rssKb > peakRssKb) peakRssKb = sample.rssKb;
    if (sample.hwmKb > hwmKb) hwmKb = sample.hwmKb;
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop(): { peakRssKb: number; hwmKb: number; samples: number } {
      clearInterval(timer);
      take();
      return { peakRssKb, hwmKb, samples };
    },
  };
}

/** Linux clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS = 100;

interface ProcStat {
  readonly ppid: number;
  /** User + system CPU seconds. */
  readonly cpuSeconds: number;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state, ppid, …; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of a process, from /proc/<pid>/stat; NaN once it is gone. */
export function processCpuSeconds(pid: number): number {
  return procStat(pid)?.cpuSeconds ?? Number.NaN;
}

/** CPU seconds of a process and its children, by pid (a PostgreSQL postmaster and its backends). */
export function familyCpuSeconds(rootPid: number): Map<number, number> {
  const result = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const stat = procStat(pid);
    if (stat !== undefined && (pid === rootPid || stat.ppid === rootPid)) result.set(pid, stat.cpuSeconds);
  }
  return result;
}

/**
 * A probe of the CPU a PostgreSQL cluster (postmaster and backends) uses: call it before a run,
 * then call what it returns after, for the CPU seconds in between. Undefined when the cluster's
 * postmaster.pid cannot be read.
 */
export function clusterCpu(dataDir: string): (() => () => number) | undefined {
  let postmaster: number;
  try {
    postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(postmaster) || postmaster <= 0) return undefined;
  return () => {
    const before = familyCpuSeconds(postmaster);
    return () => {
      let total = 0;
      // Backends that exited meanwhile are lost; the server's pooled connections stay.
      for (const [pid, seconds] of familyCpuSeconds(postmaster)) total += seconds - (before.get(pid) ?? 0);
      return total;
    };
  };
}
