// status and status --offline with each device-key store, against the file store, in alternating rounds: npx tsx test/bench/key-store-bench.ts [rounds]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestKeyring } from '../helpers/keyring.js';
import { SERVER_PATH as SERVER, startServer } from '../helpers/server.js';
import { TestAgent } from '../helpers/ssh-agent.js';
import { TestTpm } from '../helpers/swtpm.js';
import { median } from './stats.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = process.env.BENCH_CLI ?? join(ROOT, 'packages/cli/dist/cli.cjs');
/** The build before the stores (BENCH_BEFORE_CLI), to time the file store against: unset, not timed. */
const BEFORE = process.env.BENCH_BEFORE_CLI;
const rounds = Number(process.argv[2] ?? 30);
const WARMUP = 3;

function time(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}: ${result.stderr}`);
  return elapsed;
}

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
    const login = spawnSync(process.execPath, [CLI, 'login', '--with-key', '--key-store', store], {
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
    commands.push({ label: `status --offline (${store})`, argv: [CLI, 'status', '--offline'], env });
    commands.push({ label: `status (${store})`, argv: [CLI, 'status'], env });
    if (store === 'file' && BEFORE !== undefined) {
      commands.push({ label: 'status --offline (file, before)', argv: [BEFORE, 'status', '--offline'], env });
      commands.push({ label: 'status (file, before)', argv: [BEFORE, 'status'], env });
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
  const load = (await import('node:os')).loadavg().map((n) => n.toFixed(2));
  console.log(`Node ${process.version}, NODE_EXTRA_CA_CERTS unset, ${rounds} rounds, load ${load.join(' ')}`);
  for (const [i, command] of commands.entries()) {
    const ms = medians[i] as number;
    const fileLabel = command.label.startsWith('status --offline')
      ? 'status --offline (file)'
      : 'status (file)';
    const delta =
      command.label === 'node -e 0' || command.label === fileLabel ? '' : pairedDelta(i, fileLabel);
    const shown =
      typeof delta === 'number' ? `  ${delta >= 0 ? '+' : ''}${delta.toFixed(1)} ms vs file (paired)` : '';
    console.log(`${command.label.padEnd(34)} ${ms.toFixed(1).padStart(7)} ms${shown}`);
  }
} finally {
  await Promise.all([agent.stop(), keyring.stop(), tpm.stop(), server.stop()]);
  rmSync(dir, { recursive: true, force: true });
}
