// A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a temp directory, on 127.0.0.1 only.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';

const run = promisify(execFile);

/** Set to 1 to run without PostgreSQL: its tests are then reported as skipped, never silently. */
export const SKIP_VARIABLE = 'SEKUIRE_TEST_SKIP_POSTGRES';
const SUPERUSER = 'sekuire';
/** PostgreSQL's error codes for a database that is not there, and for one that already is. */
export const UNDEFINED_DATABASE = '3D000';
const DUPLICATE_DATABASE = '42P04';

export interface Cluster {
  /** postgres://sekuire@127.0.0.1:PORT/postgres: the maintenance database. */
  readonly adminUrl: string;
  readonly port: number;
  readonly dir: string;
  /** Where the cluster's binaries live (pg_ctl, initdb). */
  readonly bin: string;
  /** The server options it was started with (port, socket directory, ...). */
  readonly options: string;
}

/** Debian keeps the server binaries out of PATH, under /usr/lib/postgresql/<major>/bin. */
export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root)
      .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (majors[0] !== undefined) return join(root, majors[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** PostgreSQL refuses to run as root: as root, run its programs as the `postgres` account. */
function asClusterOwner(command: string, args: string[]): [string, string[]] {
  if (userInfo().uid !== 0) return [command, args];
  return ['runuser', ['-u', 'postgres', '--', command, ...args]];
}

async function pgCtl(cluster: Pick<Cluster, 'bin' | 'dir'>, args: string[]): Promise<void> {
  const [command, full] = asClusterOwner(join(cluster.bin, 'pg_ctl'), [
    '-D',
    join(cluster.dir, 'data'),
    ...args,
  ]);
  await run(command, full, { timeout: 60_000 });
}

/**
 * A new cluster of its own. `tls`: served with this certificate and key as well as in clear
 * (`ssl=on`); copied into the cluster's directory, owned by the cluster's owner.
 */
export async function startCluster(tls?: { readonly cert: string; readonly key: string }): Promise<Cluster> {
  const bin = findPostgresBin();
  if (bin === undefined) {
    throw new Error(
      `PostgreSQL is not installed (no initdb): install Debian's "postgresql" package (the README's test command does), or set ${SKIP_VARIABLE}=1 to skip the PostgreSQL tests.`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-pg-'));
  if (userInfo().uid === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: group } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(group.trim()));
  }
  let tlsOptions = '';
  if (tls !== undefined) {
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    copyFileSync(tls.cert, cert);
    copyFileSync(tls.key, key);
    chmodSync(key, 0o600);
    if (userInfo().uid === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: group } = await run('id', ['-g', 'postgres']);
      for (const file of [cert, key]) chownSync(file, Number(stdout.trim()), Number(group.trim()));
    }
    tlsOptions = ` -c ssl=on -c ssl_cert_file=${cert} -c ssl_key_file=${key}`;
  }
  const [initdb, initArgs] = asClusterOwner(join(bin, 'initdb'), [
    '-D',
    join(dir, 'data'),
    '-U',
    SUPERUSER,
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  await run(initdb, initArgs, { timeout: 60_000 });
  const cluster = { bin, dir };
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    // Only 127.0.0.1 and a socket in the temp directory; fsync off: a test cluster needs no durability.
    const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c full_page_writes=off -c max_connections=200${tlsOptions}`;
    try {
      await pgCtl(cluster, ['-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
      return { ...cluster, port, options, adminUrl: `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres` };
    } catch (error) {
      lastError = error;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`The test PostgreSQL cluster did not start: ${(lastError as Error).message}`);
}

export async function stopCluster(cluster: Cluster): Promise<void> {
  try {
    await pgCtl(cluster, ['-m', 'immediate', 'stop']);
  } finally {
    rmSync(cluster.dir, { recursive: true, force: true });
  }
}

/** Stops and starts the cluster again on the same port (the server restarting under load). */
export async function restartCluster(cluster: Cluster, downMs = 0): Promise<void> {
  await pgCtl(cluster, ['-m', 'fast', 'stop']);
  if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
  await pgCtl(cluster, ['-o', cluster.options, '-l', join(cluster.dir, 'log'), '-w', '-t', '60', 'start']);
}

/**
 * A new database in the cluster, empty or a copy of `template` (which nobody may be connected
 * to); drop it with dropDatabase. `ctype` gives it a locale for character classes and case (the
 * cluster's is C), as a deployment's could have: lower() then folds more than ASCII.
 */
export async function createDatabase(
  adminUrl: string,
  { template = 'template1', ctype }: { template?: string; ctype?: string } = {},
): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    // FILE_COPY (PostgreSQL 15+) copies the template's files instead of writing them all to the
    // WAL: a quarter of the time on a cluster without fsync, and tests make hundreds of databases.
    const [version] = await admin.unsafe<{ server_version_num: string }[]>('SHOW server_version_num');
    const strategy = Number(version?.server_version_num) >= 150_000 ? ' STRATEGY = FILE_COPY' : '';
    const locale = ctype === undefined ? '' : ` LC_CTYPE '${ctype.replace(/'/g, "''")}'`;
    await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${template}${strategy}${locale}`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  return adminUrl.replace(/\/postgres$/, `/${name}`);
}

/** Renames a database nobody is connected to; false when `to` exists already. */
export async function renameDatabase(adminUrl: string, url: string, to: string): Promise<boolean> {
  const name = new URL(url).pathname.slice(1);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`ALTER DATABASE ${name} RENAME TO ${to}`);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === DUPLICATE_DATABASE) return false;
    throw error;
  } finally {
    await admin.end({ timeout: 1 });
  }
}

export async function dropDatabase(adminUrl: string, url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end({ timeout: 1 });
  }
}
