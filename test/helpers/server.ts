// Runs the built reference server (dist/server.js) on port 0 with a temp database; needs `npm run build`.
// Its commands (create-key, revoke-key, audit) and its people run in the test's process on the same
// database: a change reaches the running server the way any other process's would.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createUser } from '../../packages/server/src/domain/accounts.js';
import type { ScryptCost } from '../../packages/server/src/domain/passwords.js';
import { openStore } from '../../packages/server/src/store/open.js';
import { serverOutput } from './server-commands.js';

export const SERVER_PATH = resolve(import.meta.dirname, '../../packages/server/dist/server.js');

const START_TIMEOUT_MS = 15_000;
/** The password createUser gives when none is named. */
export const TEST_PASSWORD = 'correct horse battery';
/**
 * Cheap password hashes: the cost is stored in each hash, so the server verifies them the same
 * way, without the quarter of a second and 128 MiB that every sign-in costs at the real one.
 */
export const TEST_PASSWORD_COST: ScryptCost = { N: 1024, r: 8, p: 1 };
const STOP_GRACE_MS = 3_000;

export interface TestServer {
  /** `http://127.0.0.1:PORT` (https:// with tls), no trailing slash. */
  url: string;
  /** The SQLite path or postgres:// URL the server runs on (what --db was given). */
  dbPath: string;
  secretFile: string;
  /** The temp directory holding the database and secret; removed by stop(). */
  dir: string;
  pid: number;
  /** What the server wrote to stdout so far. */
  stdout(): string;
  /** What the server wrote to stderr so far. */
  stderr(): string;
  /** Sends a signal (SIGKILL: the instance dies without closing anything) and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
  createKey(opts?: {
    email?: string;
    env?: 'live' | 'test';
    /** 0 creates a key that has already expired. */
    expiresInDays?: number;
    org?: string;
    workspace?: string;
    /** The key's name (create-key's default: "CLI key"). */
    keyName?: string;
    /** 'server': a key that never binds (SEKUIRE_API_KEY in services). */
    type?: 'client' | 'server';
    /** create-key --permission, each. */
    permissions?: readonly string[];
  }): Promise<{ key: string; id: string }>;
  /** Returns when revoke-key does: once every running server has confirmed it forgot the key. */
  revokeKey(id: string): Promise<void>;
  /**
   * A person who can sign in to the dashboard, who owns an organization of their own: what
   * create-user makes (its command is tested in test/server/cli.test.ts), hashed at TEST_PASSWORD_COST.
   */
  createUser(email: string, password?: string): Promise<void>;
  /** The audit trail (all keys, or one), oldest first, as `sekuire-server audit --json` prints it. */
  audit(keyId?: string): Promise<unknown[]>;
}

export interface StartServerOptions {
  /** Added to the server's environment (SEKUIRE_SERVER_* from the test's own environment are dropped). */
  env?: Record<string, string>;
  /** Run on this database (a postgres:// URL, or a SQLite path) instead of a new SQLite file. */
  database?: string;
  /** The secret file to use (several instances on one PostgreSQL share one). */
  secretFile?: string;
  /** Extra arguments to `start`. */
  args?: string[];
  /** PEM text, or paths to PEM files. */
  tls?: { cert: string; key: string };
}

function serverEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SEKUIRE_SERVER_')) env[name] = value;
  }
  return { ...env, ...extra };
}

async function pemFile(dir: string, name: string, value: string): Promise<string> {
  if (!value.includes('-----BEGIN')) return value;
  const path = join(dir, name);
  await writeFile(path, value, { mode: 0o600 });
  return path;
}

/** Resolves with the URL of the first "Listening on" line; rejects with stderr when the server does not start. */
function waitForListening(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    const fail = (why: string) => {
      cleanup();
      reject(new Error(`sekuire-server did not start: ${why}\nstdout: ${stdout}\nstderr: ${stderr()}`));
    };
    const onData = (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /^Listening on (\S+)\r?\n/m.exec(stdout);
      if (match?.[1] !== undefined) {
        cleanup();
        resolvePromise(match[1]);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`it exited (code ${code}, signal ${signal})`);
    const onError = (error: Error) => fail(error.message);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(`no "Listening on" line within ${START_TIMEOUT_MS / 1000} s`);
    }, START_TIMEOUT_MS);
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolvePromise();
    });
    child.kill('SIGTERM');
  });
}

export async function startServer(opts: StartServerOptions = {}): Promise<TestServer> {
  if (!existsSync(SERVER_PATH)) {
    throw new Error(`${SERVER_PATH} does not exist: run 'npm run build' before these tests.`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'sekuire-server-'));
  const dbPath = opts.database ?? join(dir, 'sekuire.db');
  const secretFile = opts.secretFile ?? join(dir, 'sekuire.db.secret');
  const env = serverEnv(opts.env);
  const args = ['start', '--host', '127.0.0.1', '--port', '0', '--db', dbPath, '--secret-file', secretFile];
  if (opts.tls !== undefined) {
    args.push('--tls-cert', await pemFile(dir, 'tls-cert.pem', opts.tls.cert));
    args.push('--tls-key', await pemFile(dir, 'tls-key.pem', opts.tls.key));
  }
  args.push(...(opts.args ?? []));

  const child = spawn(process.execPath, [SERVER_PATH, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  // Keep reading stdout after the first line so the server never blocks on a full pipe.
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });

  let url: string;
  try {
    url = await waitForListening(child, () => stderr);
  } catch (error) {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  // What the spawned server sees of SEKUIRE_SERVER_* (a shared secret), and nothing of the test's own.
  const adminEnv = opts.env ?? {};
  const admin = (command: string[]): Promise<string> =>
    serverOutput([...command, '--db', dbPath], { env: adminEnv });

  return {
    url,
    dbPath,
    secretFile,
    dir,
    pid: child.pid as number,
    stdout: () => stdout,
    stderr: () => stderr,
    kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolvePromise) => {
        child.once('exit', () => resolvePromise());
        child.kill(signal);
      });
    },
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
    async createKey(options = {}) {
      const command = ['create-key', '--json', '--secret-file', secretFile];
      command.push('--email', options.email ?? 'dev@example.com', '--env', options.env ?? 'test');
      if (options.expiresInDays !== undefined) command.push('--expires-in', String(options.expiresInDays));
      if (options.org !== undefined) command.push('--org', options.org);
      if (options.workspace !== undefined) command.push('--workspace', options.workspace);
      if (options.keyName !== undefined) command.push('--key-name', options.keyName);
      if (options.type !== undefined) command.push('--type', options.type);
      for (const permission of options.permissions ?? []) command.push('--permission', permission);
      const created = JSON.parse(await admin(command)) as { key: string; id: string };
      return { key: created.key, id: created.id };
    },
    async revokeKey(id) {
      await admin(['revoke-key', '--id', id]);
    },
    async createUser(email, password = TEST_PASSWORD) {
      const store = await openStore(dbPath);
      try {
        await createUser(store, { email, password }, new Date(), TEST_PASSWORD_COST);
      } finally {
        await store.close();
      }
    },
    async audit(keyId) {
      const command = ['audit', '--json'];
      if (keyId !== undefined) command.push('--key', keyId);
      return JSON.parse(await admin(command)) as unknown[];
    },
  };
}
