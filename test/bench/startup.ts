// CLI start-up as users see it: each command against `node -e 0` on the same Node, per Node and NODE_EXTRA_CA_CERTS, in alternating rounds.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Resources, startArgs } from './processes.js';
import { median } from './stats.js';
import { commandLine } from './timing.js';

/** A Node binary to start the CLI with. */
export interface NodeBinary {
  readonly path: string;
  /** process.version of that binary, e.g. v22.23.5. */
  readonly version: string;
}

/** A build of the CLI: the one under test, or an older one (BENCH_BEFORE_CLI) measured beside it. */
export interface CliBuild {
  readonly label: 'after' | 'before';
  readonly path: string;
}

export interface StartupOptions {
  readonly builds: readonly CliBuild[];
  readonly serverPath: string;
  readonly nodes: readonly NodeBinary[];
  /** NODE_EXTRA_CA_CERTS for the runs with the variable set; undefined: only unset runs. */
  readonly caFile: string | undefined;
  readonly warmup: number;
  readonly rounds: number;
  /** The environment without any SEKUIRE_* variable, and without NODE_EXTRA_CA_CERTS. */
  readonly baseEnv: NodeJS.ProcessEnv;
}

export type StartupCommand =
  | 'node -e 0'
  | 'sekuire --version'
  | 'sekuire status --offline'
  | 'sekuire status'
  | 'sekuire api';

/** One command of one build under one Node and one CA setting: its times and its ratio to `node -e 0`. */
export interface StartupCell {
  readonly node: string;
  readonly caSet: boolean;
  readonly build: CliBuild['label'];
  readonly command: StartupCommand;
  /** Milliseconds, one per round. */
  readonly times: number[];
  readonly medianMs: number;
  /** The median of the per-round ratios to `node -e 0` of the same round, Node and CA setting. */
  readonly ratio: number;
  /** `sekuire api` only: the median of the per-round ratios to `sekuire status` of the same build. */
  readonly ratioToStatus?: number;
}

export interface StartupResult {
  readonly rounds: number;
  readonly caFile: string | null;
  readonly cells: StartupCell[];
}

interface Timed {
  readonly node: NodeBinary;
  readonly caSet: boolean;
  readonly build: CliBuild['label'] | undefined;
  readonly command: StartupCommand;
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly times: number[];
}

/** Runs once with output discarded (as hyperfine -N does); milliseconds of wall time, from spawn to exit. */
function timeOnce(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty command');
  const started = process.hrtime.bigint();
  const result = spawnSync(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) {
    throw new Error(`${commandLine(argv)} exited with ${result.status} (${result.signal}): ${result.stderr}`);
  }
  return elapsed;
}

/**
 * Logs in once (with the repo's Node), then times every command of every build on every Node,
 * with the variable unset and set: each round runs each of them once, starting one further down
 * the list each round, so load that comes and goes falls on all of them alike.
 */
export async function startupBench(resources: Resources, options: StartupOptions): Promise<StartupResult> {
  const dir = await resources.tempDir('sekuire-bench-startup-');
  try {
    const serverEnv = { ...options.baseEnv };
    const db = join(dir, 'startup.db');
    const server = await resources.startServer(
      'sekuire-server (start-up)',
      startArgs(options.serverPath, db),
      serverEnv,
    );
    try {
      const created = spawnSync(
        process.execPath,
        [options.serverPath, 'create-key', '--db', db, '--email', 'startup@example.com', '--json'],
        { env: serverEnv, encoding: 'utf8' },
      );
      const key = (JSON.parse(created.stdout || '{}') as { key?: unknown }).key;
      if (typeof key !== 'string') throw new Error(`create-key --json printed no "key": ${created.stderr}`);
      const env: NodeJS.ProcessEnv = {
        ...options.baseEnv,
        SEKUIRE_HOME: join(dir, 'home'),
        SEKUIRE_MACHINE_ID: 'bench-startup',
        SEKUIRE_BACKEND_URL: server.url,
        NO_COLOR: '1',
      };
      const first = options.builds[0];
      if (first === undefined) throw new Error('no CLI build to time');
      const login = spawnSync(process.execPath, [first.path, 'login', '--with-key'], {
        env,
        input: `${key}\n`,
        encoding: 'utf8',
      });
      if (login.status !== 0) throw new Error(`login exited with ${login.status}: ${login.stderr}`);
      const keyFile = join(dir, 'key.txt');
      writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });

      const caStates = options.caFile === undefined ? [false] : [false, true];
      const timed: Timed[] = [];
      for (const node of options.nodes) {
        for (const caSet of caStates) {
          const runEnv =
            caSet && options.caFile !== undefined ? { ...env, NODE_EXTRA_CA_CERTS: options.caFile } : env;
          const add = (build: CliBuild | undefined, command: StartupCommand, argv: readonly string[]) =>
            timed.push({ node, caSet, build: build?.label, command, argv, env: runEnv, times: [] });
          add(undefined, 'node -e 0', [node.path, '-e', '0']);
          for (const build of options.builds) {
            add(build, 'sekuire --version', [node.path, build.path, '--version']);
            add(build, 'sekuire status --offline', [node.path, build.path, 'status', '--offline']);
            add(build, 'sekuire status', [node.path, build.path, 'status']);
            // The same signed GET as status, through `sekuire api` (issue 18: at most 1.1 x status).
            add(build, 'sekuire api', [node.path, build.path, 'api', '/api/v1/cli/status']);
          }
        }
      }
      process.stderr.write(
        `bench: start-up: ${timed.length} commands (${options.nodes.map((node) => node.version).join(', ')}; NODE_EXTRA_CA_CERTS ${options.caFile === undefined ? 'unset only' : 'unset and set'}), ${options.rounds} alternating rounds after ${options.warmup} warmups\n`,
      );
      for (let round = 0; round < options.warmup + options.rounds; round++) {
        for (let i = 0; i < timed.length; i++) {
          const entry = timed[(i + round) % timed.length];
          if (entry === undefined) continue;
          const ms = timeOnce(entry.argv, entry.env);
          if (round >= options.warmup) entry.times.push(ms);
        }
      }

      const cells: StartupCell[] = [];
      for (const entry of timed) {
        const baseline = timed.find(
          (other) =>
            other.node === entry.node && other.caSet === entry.caSet && other.command === 'node -e 0',
        );
        if (baseline === undefined) throw new Error('no baseline');
        const ratios = entry.times.map((ms, round) => ms / (baseline.times[round] ?? Number.NaN));
        const status =
          entry.command === 'sekuire api'
            ? timed.find(
                (other) =>
                  other.node === entry.node &&
                  other.caSet === entry.caSet &&
                  other.build === entry.build &&
                  other.command === 'sekuire status',
              )
            : undefined;
        cells.push({
          node: entry.node.version,
          caSet: entry.caSet,
          build: entry.build ?? 'after',
          command: entry.command,
          times: entry.times,
          medianMs: median(entry.times),
          ratio: median(ratios),
          ...(status !== undefined && {
            ratioToStatus: median(entry.times.map((ms, round) => ms / (status.times[round] ?? Number.NaN))),
          }),
        });
      }
      return { rounds: options.rounds, caFile: options.caFile ?? null, cells };
    } finally {
      await resources.stop(server.child);
    }
  } finally {
    await resources.removeDir(dir);
  }
}

/** The Node binaries of scripts/node-bin.sh (20, 22, 24); a major it cannot provide is left out with a note. */
export function nodeBinaries(root: string, majors: readonly string[], notes: string[]): NodeBinary[] {
  const found: NodeBinary[] = [];
  for (const major of majors) {
    const located = spawnSync('bash', [join(root, 'scripts/node-bin.sh'), major], { encoding: 'utf8' });
    const path = located.stdout.trim();
    if (located.status !== 0 || !existsSync(path)) {
      notes.push(
        `Node ${major} not measured: scripts/node-bin.sh ${major} failed (${located.stderr.trim()})`,
      );
      continue;
    }
    const version = spawnSync(path, ['-p', 'process.version'], { encoding: 'utf8' }).stdout.trim();
    if (!found.some((node) => node.version === version)) found.push({ path, version });
  }
  return found;
}
