// `npx tsx test/bench/purge-bench.ts [sqlite|postgres] [ROWS]`: GET status latency while `start` purges ROWS expired rows.
// Needs `npm run build` (and PostgreSQL for postgres). Seeds the rows (grants 40%, moves 30%, refresh tokens
// and their sessions the rest), starts the built server, loads status with autocannon from the first line on,
// and prints p50/p99/max before the purge and during it (the window the server's `purge` log line gives).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { createDatabase, startCluster, stopCluster } from '../helpers/postgres.js';
import { SERVER_PATH } from '../helpers/server.js';
import { startArgs } from './processes.js';

const ENGINE = process.argv[2] === 'postgres' ? 'postgres' : 'sqlite';
const ROWS = Number(process.argv[3] ?? 1_000_000);
const CONNECTIONS = 16;
const EXPIRED = '2020-01-01T00:00:00.000Z';
/** Refresh tokens per session: sessions are a hundredth of the tokens. */
const TOKENS_PER_SESSION = 100;

interface Split {
  readonly grants: number;
  readonly moves: number;
  readonly sessions: number;
  readonly tokens: number;
}

function split(rows: number): Split {
  const grants = Math.round(rows * 0.4);
  const moves = Math.round(rows * 0.3);
  const rest = rows - grants - moves;
  const sessions = Math.ceil(rest / (TOKENS_PER_SESSION + 1));
  return { grants, moves, sessions, tokens: rest - sessions };
}

interface Owner {
  readonly keyId: string;
  readonly userId: string;
}

function seedSqlite(path: string, owner: Owner, n: Split): void {
  const db = new Database(path);
  const series = 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)';
  db.transaction(() => {
    db.prepare(
      `${series} INSERT INTO cli_grants (id, flow, secret_digest, device_name, device_os, created_at, expires_at)
       SELECT 'grant_' || i, 'device', randomblob(32), 'host', 'linux', ?, ? FROM n`,
    ).run(n.grants, EXPIRED, EXPIRED);
    db.prepare(
      `${series} INSERT INTO device_moves (id, key_id, user_code, fingerprint, device_name, device_os, os_version, arch,
         public_key, key_thumbprint, created_at, expires_at, interval_seconds)
       SELECT 'move_' || i, ?, 'C' || i, ?, 'host', 'linux', '12', 'x64', '{}', 't', ?, ?, 5 FROM n`,
    ).run(n.moves, owner.keyId, 'a'.repeat(64), EXPIRED, EXPIRED);
    db.prepare(
      `${series} INSERT INTO sessions (id, user_id, kind, created_at, expires_at) SELECT 'sess_' || i, ?, 'api', ?, ? FROM n`,
    ).run(n.sessions, owner.userId, EXPIRED, EXPIRED);
    db.prepare(
      `${series} INSERT INTO session_tokens (digest, session_id, kind, created_at, expires_at)
       SELECT randomblob(32), 'sess_' || (i % CAST(? AS INTEGER) + 1), 'refresh', ?, ? FROM n`,
    ).run(n.tokens, n.sessions, EXPIRED, EXPIRED);
  })();
  db.close();
}

async function seedPostgres(url: string, owner: Owner, n: Split): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql.unsafe(
    `INSERT INTO cli_grants (id, flow, secret_digest, device_name, device_os, created_at, expires_at)
     SELECT 'grant_' || i, 'device', sha256(int4send(i)), 'host', 'linux', $1, $1 FROM generate_series(1, $2::int) i`,
    [EXPIRED, n.grants],
  );
  await sql.unsafe(
    `INSERT INTO device_moves (id, key_id, user_code, fingerprint, device_name, device_os, os_version, arch,
       public_key, key_thumbprint, created_at, expires_at, interval_seconds)
     SELECT 'move_' || i, $1, 'C' || i, repeat('a', 64), 'host', 'linux', '12', 'x64', '{}', 't', $2, $2, 5
     FROM generate_series(1, $3::int) i`,
    [owner.keyId, EXPIRED, n.moves],
  );
  await sql.unsafe(
    `INSERT INTO sessions (id, user_id, kind, created_at, expires_at)
     SELECT 'sess_' || i, $1, 'api', $2, $2 FROM generate_series(1, $3::int) i`,
    [owner.userId, EXPIRED, n.sessions],
  );
  await sql.unsafe(
    `INSERT INTO session_tokens (digest, session_id, kind, created_at, expires_at)
     SELECT sha256(int4send(i)), 'sess_' || (i % $1 + 1), 'refresh', $2, $2 FROM generate_series(1, $3::int) i`,
    [n.sessions, EXPIRED, n.tokens],
  );
  // Statistics, as a database that grew to this size would have.
  await sql.unsafe('ANALYZE');
  await sql.end();
}

interface PurgeLine {
  readonly time: string;
  readonly duration_ms: number;
  readonly batches: number;
  readonly deleted: Record<string, number>;
  readonly ended: string;
}

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly purged: Promise<PurgeLine>;
}

/** The built server; the request lines on stderr are read and dropped, the purge line kept. */
function serve(target: string, secretFile: string): Promise<Served> {
  const child = spawn(process.execPath, startArgs(SERVER_PATH, target, '--secret-file', secretFile), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const purged = new Promise<PurgeLine>((resolve) => {
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.includes('"msg":"purge')) resolve(JSON.parse(line) as PurgeLine);
    });
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const match = /^Listening on (\S+)/.exec(line);
      if (match?.[1] !== undefined) resolve({ child, url: match[1], purged });
    });
  });
}

interface Sample {
  readonly at: number;
  readonly ms: number;
  readonly status: number;
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

function describe(label: string, samples: readonly Sample[], seconds: number): string {
  const ms = samples.map((sample) => sample.ms).sort((a, b) => a - b);
  const failed = samples.filter((sample) => sample.status !== 200).length;
  return `${label.padEnd(16)} ${String(samples.length).padStart(8)} answers  ${(samples.length / seconds).toFixed(0).padStart(6)}/s  p50 ${percentile(ms, 0.5).toFixed(1)} ms  p99 ${percentile(ms, 0.99).toFixed(1)} ms  max ${(ms.at(-1) ?? Number.NaN).toFixed(1)} ms  non-200 ${failed}`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-purge-bench-'));
  const cluster = ENGINE === 'postgres' ? await startCluster() : undefined;
  let child: ChildProcess | undefined;
  try {
    const target = cluster === undefined ? join(dir, 'sekuire.db') : await createDatabase(cluster.adminUrl);
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, `${'5e'.repeat(32)}\n`, { mode: 0o600 });
    // The built bin: the sources' commands need the version the build defines.
    const key = execFileSync(
      process.execPath,
      [
        SERVER_PATH,
        'create-key',
        '--db',
        target,
        '--email',
        'bench@example.com',
        '--type',
        'server',
        '--secret-file',
        secretFile,
      ],
      { encoding: 'utf8' },
    ).trim();
    const owner = await ownerOf(target);
    const n = split(ROWS);
    const seeding = performance.now();
    if (cluster === undefined) seedSqlite(target, owner, n);
    else await seedPostgres(target, owner, n);
    console.log(
      `${ENGINE}: seeded ${ROWS} expired rows (${n.grants} grants, ${n.moves} moves, ${n.sessions} sessions, ${n.tokens} tokens) in ${((performance.now() - seeding) / 1000).toFixed(1)} s`,
    );

    const served = await serve(target, secretFile);
    child = served.child;
    const listening = Date.now();
    const samples: Sample[] = [];
    const instance = autocannon(
      {
        url: `${served.url}/api/v1/cli/status`,
        headers: { 'x-api-key': key, 'x-sekuire-device': 'e'.repeat(64) },
        connections: CONNECTIONS,
        duration: 900,
        timeout: 10,
      },
      () => {},
    );
    instance.on('response', (_client, status, _bytes, ms) => samples.push({ at: Date.now(), ms, status }));
    const line = await served.purged;
    // A little of the load after the purge too, then stop.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    instance.stop();

    const end = Date.parse(line.time);
    const start = end - line.duration_ms;
    // The first 2 s warm the server up; the baseline ends half a second before the purge starts.
    const before = samples.filter((sample) => sample.at >= listening + 2_000 && sample.at < start - 500);
    const during = samples.filter((sample) => sample.at >= start && sample.at <= end);
    console.log(
      `purge: ${Object.values(line.deleted).reduce((sum, count) => sum + count, 0)} rows in ${line.batches} batches, ${(line.duration_ms / 1000).toFixed(1)} s, ended ${line.ended}; ${JSON.stringify(line.deleted)}`,
    );
    console.log(describe('before the purge', before, (start - 500 - listening - 2_000) / 1000));
    console.log(describe('during the purge', during, line.duration_ms / 1000));
    console.log(
      `autocannon: ${CONNECTIONS} connections; ${cpus().length} cores, load average ${loadavg()
        .map((value) => value.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (cluster !== undefined) await stopCluster(cluster);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function ownerOf(target: string): Promise<Owner> {
  if (!target.startsWith('postgres')) {
    const db = new Database(target, { readonly: true });
    const row = db.prepare('SELECT id AS keyId, user_id AS userId FROM api_keys').get() as Owner;
    db.close();
    return row;
  }
  const sql = postgres(target, { max: 1, onnotice: () => {} });
  const [row] = await sql.unsafe('SELECT id AS "keyId", user_id AS "userId" FROM api_keys');
  await sql.end();
  return row as unknown as Owner;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
