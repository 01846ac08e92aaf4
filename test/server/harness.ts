// An in-process app on a temp database with a settable clock, for app.inject() tests.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { type AppOptions, buildApp } from '../../src/server/app.js';
import { type Db, openDatabase } from '../../src/server/db.js';
import { type CreatedKey, type CreateKeyInput, createApiKey } from '../../src/server/provision.js';
import { createStore, type Store } from '../../src/server/store.js';

export const FP_A = 'a'.repeat(64);
export const FP_B = 'b'.repeat(64);
export const FP_C = `${'0123456789abcdef'.repeat(4)}`;
export const T0 = new Date('2030-01-01T00:00:00.000Z');

export function deviceBody(fingerprint: string, extra: Record<string, unknown> = {}) {
  return {
    device: {
      fingerprint,
      name: `host-${fingerprint.slice(0, 4)}`,
      os: 'linux',
      os_version: 'Debian 12',
      arch: 'x64',
    },
    ...extra,
  };
}

export interface Harness {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly db: Db;
  readonly dir: string;
  readonly dbPath: string;
  readonly secret: Buffer;
  /** Errors the app reported (500s); tests assert it stays empty. */
  readonly logged: string[];
  now(): Date;
  advance(ms: number): void;
  createKey(input?: Partial<CreateKeyInput>): CreatedKey;
  login(key: string, fingerprint: string, extra?: Record<string, unknown>): Promise<LightMyRequestResponse>;
  get(path: string, key: string | undefined, fingerprint?: string): Promise<LightMyRequestResponse>;
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function harness(options: Partial<AppOptions> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-app-'));
  const dbPath = join(dir, 'sekuire.db');
  const db = openDatabase(dbPath);
  const store = createStore(db);
  const secret = randomBytes(32);
  let clock = T0.getTime();
  const now = () => new Date(clock);
  const logged: string[] = [];
  const app = await buildApp({ store, secret, now, logError: (message) => logged.push(message), ...options });
  await app.ready();

  return {
    app,
    store,
    db,
    dir,
    dbPath,
    secret,
    logged,
    now,
    advance(ms) {
      clock += ms;
    },
    createKey(input = {}) {
      return createApiKey(store, secret, { email: 'dev@example.com', environment: 'test', ...input }, now());
    },
    login(key, fingerprint, extra = {}) {
      return app.inject({
        method: 'POST',
        url: '/api/v1/cli/login',
        headers: { 'x-api-key': key },
        payload: deviceBody(fingerprint, extra),
      });
    },
    get(path, key, fingerprint) {
      const headers: Record<string, string> = {};
      if (key !== undefined) headers['x-api-key'] = key;
      if (fingerprint !== undefined) headers['x-sekuire-device'] = fingerprint;
      return app.inject({ method: 'GET', url: path, headers });
    },
    inject(injectOptions) {
      return app.inject(injectOptions);
    },
    async close() {
      await app.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
