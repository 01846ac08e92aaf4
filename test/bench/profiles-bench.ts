// What profiles cost `status`: a home with ten profiles against a home with one, in alternating rounds (npx tsx test/bench/profiles-bench.ts).
// BENCH_CLI=path/to/cli.cjs measures another build (a copy, safe from rebuilds); BENCH_BEFORE_CLI=path/to/cli.cjs adds an older build on the one-profile home (the release before profiles).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './stats.js';

const ROOT = resolve(import.meta.dirname, '../..');
const WARMUP = 3;

export interface ProfilesBenchOptions {
  readonly cli: string;
  readonly server: string;
  readonly rounds: number;
  /** An older build, timed on the one-profile home (the release before profiles). */
  readonly before?: string | undefined;
}

export interface ProfilesBenchResult {
  readonly rounds: number;
  /** Median ms per case ("one profile: status", "ten profiles: status --offline", ...). */
  readonly medians: Readonly<Record<string, number>>;
  /** Medians of the per-round ratios, ten profiles / one. */
  readonly tenOverOne: { readonly status: number; readonly offline: number };
  readonly oneOverBefore?: { readonly status: number; readonly offline: number };
}

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SEKUIRE_') && name !== 'NODE_EXTRA_CA_CERTS') env[name] = value;
  }
  return { ...env, SEKUIRE_MACHINE_ID: 'fedcba9876543210fedcba9876543210' };
}

async function startServer(server: string, dir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [server, 'start', '--port', '0', '--db', join(dir, 's.db'), '--log-level', 'silent'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const match = /Listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) done(match[1]);
    });
    child.on('exit', () => fail(new Error(`the server exited: ${out}`)));
  });
  return { url, child };
}

function run(
  cli: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): { ms: number; code: number | null } {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [cli, ...args], { env, input, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')}: exit ${result.status}\n${result.stderr}`);
  return { ms, code: result.status };
}

function createKey(server: string, dir: string, email: string): string {
  const out = spawnSync(
    process.execPath,
    [server, 'create-key', '--db', join(dir, 's.db'), '--email', email, '--env', 'test', '--json'],
    { encoding: 'utf8' },
  );
  return (JSON.parse(out.stdout) as { key: string }).key;
}

/** `status` and `status --offline` on a home with one profile and on one with ten, alternating. */
export async function profilesBench(options: ProfilesBenchOptions): Promise<ProfilesBenchResult> {
  const { cli: CLI, rounds: ROUNDS, before } = options;
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-profiles-bench-'));
  const server = await startServer(options.server, dir);
  const createKeyFor = (email: string) => createKey(options.server, dir, email);
  try {
    const one = join(dir, 'one');
    const ten = join(dir, 'ten');
    mkdirSync(one, { mode: 0o700 });
    mkdirSync(ten, { mode: 0o700 });
    const env = (home: string) => ({ ...baseEnv(), SEKUIRE_HOME: home });
    run(CLI, ['login', '--with-key', '--backend', server.url], env(one), createKeyFor('one@example.com'));
    run(CLI, ['login', '--with-key', '--backend', server.url], env(ten), createKeyFor('p0@example.com'));
    for (let i = 1; i < 10; i++) {
      const args = ['login', '--with-key', '--backend', server.url, '--profile', `p${i}`];
      run(CLI, args, env(ten), createKeyFor(`p${i}@example.com`));
    }
    // The ten-profile home uses a named profile, the active one: the path with the most to read.
    run(CLI, ['auth', 'switch', 'p9'], env(ten));
    const cases: { name: string; cli: string; home: string; args: string[] }[] = [];
    for (const args of [['status'], ['status', '--offline']]) {
      cases.push({ name: `one profile: ${args.join(' ')}`, cli: CLI, home: one, args });
      cases.push({ name: `ten profiles: ${args.join(' ')}`, cli: CLI, home: ten, args });
      if (before) cases.push({ name: `before profiles: ${args.join(' ')}`, cli: before, home: one, args });
    }
    const times = new Map(cases.map((c) => [c.name, [] as number[]]));
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      // Alternating: every case once per round, so that the machine's other load falls on all alike.
      for (const c of round % 2 ? [...cases].reverse() : cases) {
        const { ms } = run(c.cli, c.args, env(c.home));
        if (round >= WARMUP) times.get(c.name)?.push(ms);
      }
    }
    const ratio = (a: string, b: string) =>
      median((times.get(a) ?? []).map((ms, i) => ms / ((times.get(b) ?? [])[i] ?? Number.NaN)));
    const pair = (a: string, b: string) => ({
      status: ratio(`${a}: status`, `${b}: status`),
      offline: ratio(`${a}: status --offline`, `${b}: status --offline`),
    });
    return {
      rounds: ROUNDS,
      medians: Object.fromEntries(cases.map((c) => [c.name, median(times.get(c.name) ?? [])])),
      tenOverOne: pair('ten profiles', 'one profile'),
      ...(before && { oneOverBefore: pair('one profile', 'before profiles') }),
    };
  } finally {
    server.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const result = await profilesBench({
    cli: process.env.BENCH_CLI ?? join(ROOT, 'packages/cli/dist/cli.cjs'),
    server: process.env.BENCH_SERVER ?? join(ROOT, 'packages/server/dist/server.js'),
    rounds: Number(process.env.BENCH_ROUNDS ?? 40),
    before: process.env.BENCH_BEFORE_CLI,
  });
  console.log(`node ${process.version}, ${result.rounds} rounds, NODE_EXTRA_CA_CERTS unset`);
  for (const [name, ms] of Object.entries(result.medians))
    console.log(`${name.padEnd(36)} median ${ms.toFixed(1)} ms`);
  console.log(`ten / one, status: ${result.tenOverOne.status.toFixed(3)} x`);
  console.log(`ten / one, status --offline: ${result.tenOverOne.offline.toFixed(3)} x`);
  if (result.oneOverBefore !== undefined) {
    console.log(`one / before, status: ${result.oneOverBefore.status.toFixed(3)} x`);
    console.log(`one / before, status --offline: ${result.oneOverBefore.offline.toFixed(3)} x`);
  }
}

// Run by hand (npx tsx test/bench/profiles-bench.ts); npm run bench imports profilesBench.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
