// An in-process app on a temp database (either engine) with a settable clock, for app.inject() tests.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import {
  type CreatedUser,
  type CreateUserInput,
  createUser,
} from '../../packages/server/src/domain/accounts.js';
import { type CreatedKey, type CreateKeyInput, createApiKey } from '../../packages/server/src/domain/keys.js';
import { type AppOptions, buildApp } from '../../packages/server/src/http/app.js';
import { Metrics } from '../../packages/server/src/http/metrics.js';
import { openStore } from '../../packages/server/src/store/open.js';
import type { Engine, Store } from '../../packages/server/src/store/store.js';
import { memoryDeviceKey, signed } from '../helpers/device-keys.js';
import { testDatabase } from '../helpers/engines.js';
import { type RawSql, rawSql } from '../helpers/raw-sql.js';

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

/** Cheap hashes for tests: the cost is stored in each hash, so verification works the same. */
export const TEST_PASSWORD_COST = { N: 1024, r: 8, p: 1 };
export const PASSWORD = 'correct horse battery';

export interface Harness {
  readonly engine: Engine;
  readonly app: FastifyInstance;
  readonly store: Store;
  /** Raw SQL on the same database, through a connection of its own. */
  readonly sql: RawSql;
  readonly dir: string;
  /** The SQLite path or the postgres:// URL. */
  readonly target: string;
  readonly secret: Buffer;
  /** Errors the app reported (500s); tests assert it stays empty. */
  readonly logged: string[];
  now(): Date;
  advance(ms: number): void;
  createKey(input?: Partial<CreateKeyInput>): Promise<CreatedKey>;
  /** A person who can sign in (PASSWORD unless given). */
  createUser(input: Partial<CreateUserInput> & { email: string }): Promise<CreatedUser>;
  /**
   * POST /api/v1/cli/login as the CLI does it: the device's public key in the body, the request
   * signed with it (each fingerprint gets its own device key; see deviceKey).
   */
  login(key: string, fingerprint: string, extra?: Record<string, unknown>): Promise<LightMyRequestResponse>;
  /** A GET with the key and fingerprint, signed with that fingerprint's device key. */
  get(path: string, key: string | undefined, fingerprint?: string): Promise<LightMyRequestResponse>;
  /** The device key of a fingerprint: made on first use, the same for the whole test. */
  deviceKey(fingerprint: string): DeviceKey;
  /** Proof headers for a request, dated by the harness clock. */
  sign(key: DeviceKey, method: string, url: string, body?: string): Record<string, string>;
  /**
   * A JSON POST signed by `device` (unsigned when undefined); a login body's device gets that
   * device's public key unless it names one.
   */
  post(
    url: string,
    payload: unknown,
    options?: {
      device?: DeviceKey;
      headers?: Record<string, string>;
      remoteAddress?: string;
      /** The origin the proof is signed for (its "@authority"): http://localhost unless given. */
      signFor?: string;
    },
  ): Promise<LightMyRequestResponse>;
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<AppOptions> {
  readonly engine?: Engine;
  /** Serve cached answers as `start` does (listen or push for changes from other processes). */
  readonly watch?: boolean;
  /** PostgreSQL only: the database's LC_CTYPE (the test cluster's is C). */
  readonly ctype?: string;
  /** Metrics of the app's own, served at /metrics (start --metrics). */
  readonly withMetrics?: boolean;
}

export async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const engine = options.engine ?? 'sqlite';
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-app-'));
  const database = await testDatabase(engine, dir, options.ctype);
  const store = await openStore(database.target);
  if (options.watch !== false) await store.watch();
  const sql = rawSql(database.target);
  const secret = randomBytes(32);
  let clock = T0.getTime();
  const now = () => new Date(clock);
  const deviceKeys = new Map<string, DeviceKey>();
  const deviceKey = (fingerprint: string): DeviceKey => {
    let found = deviceKeys.get(fingerprint);
    if (found === undefined) {
      found = memoryDeviceKey();
      deviceKeys.set(fingerprint, found);
    }
    return found;
  };
  const logged: string[] = [];
  const app = await buildApp({
    store,
    secret,
    now,
    logError: (message) => logged.push(message),
    passwordCost: TEST_PASSWORD_COST,
    // In-process requests reach no socket: they are addressed to localhost (light-my-request's Host).
    publicUrls: ['http://localhost'],
    ...(options.withMetrics === true && { metrics: new Metrics(store), serveMetrics: true }),
    ...options,
  });
  await app.ready();

  return {
    engine,
    app,
    store,
    sql,
    dir,
    target: database.target,
    secret,
    logged,
    now,
    advance(ms) {
      clock += ms;
    },
    createKey(input = {}) {
      return createApiKey(store, secret, { email: 'dev@example.com', environment: 'test', ...input }, now());
    },
    createUser(input) {
      return createUser(store, { password: PASSWORD, ...input }, now(), TEST_PASSWORD_COST);
    },
    login(key, fingerprint, extra = {}) {
      const device = deviceKey(fingerprint);
      const body = deviceBody(fingerprint, extra);
      const payload = JSON.stringify({ ...body, device: { ...body.device, public_key: device.publicJwk } });
      return app.inject({
        method: 'POST',
        url: '/api/v1/cli/login',
        headers: {
          'x-api-key': key,
          'content-type': 'application/json',
          ...signed(device, 'POST', '/api/v1/cli/login', payload, clock),
        },
        payload,
      });
    },
    get(path, key, fingerprint) {
      const headers: Record<string, string> = {};
      if (key !== undefined) headers['x-api-key'] = key;
      if (fingerprint !== undefined) {
        headers['x-sekuire-device'] = fingerprint;
        Object.assign(headers, signed(deviceKey(fingerprint), 'GET', path, undefined, clock));
      }
      return app.inject({ method: 'GET', url: path, headers });
    },
    deviceKey,
    sign(key, method, url, body) {
      return signed(key, method, url, body, clock);
    },
    post(url, payload, postOptions = {}) {
      const { device } = postOptions;
      let body = payload;
      if (device !== undefined && typeof payload === 'object' && payload !== null && 'device' in payload) {
        const named = (payload as { device: Record<string, unknown> }).device;
        body = { ...payload, device: { public_key: device.publicJwk, ...named } };
      }
      const text = JSON.stringify(body);
      return app.inject({
        method: 'POST',
        url,
        headers: {
          'content-type': 'application/json',
          ...postOptions.headers,
          ...(device !== undefined &&
            signed(
              device,
              'POST',
              new URL(url, postOptions.signFor ?? 'http://localhost').href,
              text,
              clock,
            )),
        },
        payload: text,
        ...(postOptions.remoteAddress !== undefined && { remoteAddress: postOptions.remoteAddress }),
      });
    },
    inject(injectOptions) {
      return app.inject(injectOptions);
    },
    async close() {
      await app.close();
      await store.close();
      await sql.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
