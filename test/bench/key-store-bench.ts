// status and status --offline with each device-key store, against the file store, in alternating rounds: npx tsx test/bench/key-store-bench.ts [rounds]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestKeyring } from '../helpers/keyring.js';
import { SERVER_PATH as SERVER, startServer } from '../helpers/server.js';
import { TestAgent } from '../helpers/ssh-agent.js';
import { TestTpm } from '../helpers/swtpm.js';
import { median } from './stats.js';

const ROOT = resolve(import.meta.dirname, '../..');
const WARMUP = 3;

export interface KeyStoreBenchOptions {
  readonly cli: string;
  readonly rounds: number;
  /** The build before the stores, to time the file store against: unset, not timed. */
  readonly before?: string | undefined;
}

export interface KeyStoreBenchResult {
  readonly rounds: number;
  /** Median ms per command ("node -e 0", "status (agent)", "status --offline (tpm)", ...), in run order. */
  readonly medians: ReadonlyArray<readonly [string, number]>;
  /** Median of the per-round differences to the file store's same command, ms (absent for the file store itself). */
  readonly deltas: Readonly<Record<string, number>>;
}

function time(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}: ${result.stderr}`);
  return elapsed;
}

/** `status` and `status --offline` with each store against the file store, in alternating rounds. */
export async function keyStoreBench(options: KeyStoreBenchOptions): Promise<KeyStoreBenchResult> {
  const { cli, rounds, before } = options;
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-bench-stores-'));
  const server = await startServer();
  const agent = await TestAgent.start();
  agent.addKey('bench');
  const keyring = await TestKeyring.start();
  const tpm = await TestTpm.start();
  try {
    // The variable the machine's shell may set costs ~ms per process: measured without it, as the repo's bench does.
    const base: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      NO_COLOR: '1',
      SEKUIRE_MACHINE_ID: 'bench-stores',
    };
    const stores = {
      file: {},
      agent: { SSH_AUTH_SOCK: agent.socket },
      keyring: keyring.env,
      tpm: { TPM2TOOLS_TCTI: tpm.tcti },
    } as const;
    const envs: Record<string, NodeJS.ProcessEnv> = {};
    for (const [store, extra] of Object.entries(stores)) {
      const created = spawnSync(
        process.execPath,
        [SERVER, 'create-key', '--db', server.dbPath, '--email', 'bench@example.com', '--json'],
        {
          encoding: 'utf8',
        },
      );
      const { key } = JSON.parse(created.stdout) as { key: string };
      const env = { ...base, ...extra, SEKUIRE_HOME: join(dir, store), SEKUIRE_BACKEND_URL: server.url };
      const login = spawnSync(process.execPath, [cli, 'login', '--with-key', '--key-store', store], {
        env,
        input: `${key}\n`,
        encoding: 'utf8',
      });
      if (login.status !== 0) throw new Error(`login --key-store ${store}: ${login.stderr}`);
      envs[store] = env;
    }
    const commands: { label: string; argv: string[]; env: NodeJS.ProcessEnv }[] = [
      { label: 'node -e 0', argv: ['-e', '0'], env: base },
    ];
    for (const [store, env] of Object.entries(envs)) {
      commands.push({ label: `status --offline (${store})`, argv: [cli, 'status', '--offline'], env });
      commands.push({ label: `status (${store})`, argv: [cli, 'status'], env });
      if (store === 'file' && before !== undefined) {
        commands.push({
          label: 'status --offline (file, before)',
          argv: [before, 'status', '--offline'],
          env,
        });
        commands.push({ label: 'status (file, before)', argv: [before, 'status'], env });
      }
    }
    const times = commands.map(() => [] as number[]);
    for (let round = 0; round < WARMUP + rounds; round++) {
      // Each round starts one further down the list: load that comes and goes falls on all alike.
      for (let i = 0; i < commands.length; i++) {
        const index = (i + round) % commands.length;
        const command = commands[index] as (typeof commands)[number];
        const ms = time(command.argv, command.env);
        if (round >= WARMUP) times[index]?.push(ms);
      }
    }
    const medians = times.map((list) => median(list));
    const indexOf = new Map(commands.map((command, i) => [command.label, i]));
    // Paired: each round's time minus the file store's of the same round, then the median of those.
    const pairedDelta = (i: number, fileLabel: string): number => {
      const file = times[indexOf.get(fileLabel) as number] as number[];
      return median((times[i] as number[]).map((ms, round) => ms - (file[round] as number)));
    };
    const deltas: Record<string, number> = {};
    for (const [i, command] of commands.entries()) {
      const fileLabel = command.label.startsWith('status --offline')
        ? 'status --offline (file)'
        : 'status (file)';
      if (command.label !== 'node -e 0' && command.label !== fileLabel)
        deltas[command.label] = pairedDelta(i, fileLabel);
    }
    return {
      rounds,
      medians: commands.map((command, i) => [command.label, medians[i] as number] as const),
      deltas,
    };
  } finally {
    await Promise.all([agent.stop(), keyring.stop(), tpm.stop(), server.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const result = await keyStoreBench({
    cli: process.env.BENCH_CLI ?? join(ROOT, 'packages/cli/dist/cli.cjs'),
    rounds: Number(process.argv[2] ?? 30),
    before: process.env.BENCH_BEFORE_CLI,
  });
  const load = loadavg().map((n) => n.toFixed(2));
  console.log(
    `Node ${process.version}, NODE_EXTRA_CA_CERTS unset, ${result.rounds} rounds, load ${load.join(' ')}`,
  );
  for (const [label, ms] of result.medians) {
    const delta = result.deltas[label];
    const shown =
      delta === undefined ? '' : `  ${delta >= 0 ? '+' : ''}${delta.toFixed(1)} ms vs file (paired)`;
    console.log(`${label.padEnd(34)} ${ms.toFixed(1).padStart(7)} ms${shown}`);
  }
}

// Run by hand (npx tsx test/bench/key-store-bench.ts [rounds]); npm run bench imports keyStoreBench.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
