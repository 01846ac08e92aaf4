// Fills a server database (SQLite or PostgreSQL) with N keys, each bound to its own device (or unbound server keys), in one transaction.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { BASE62, checksum, maskKey, parseKey } from '@sekuire/shared/key';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import { keyDigest } from '../../packages/server/src/domain/digest.js';
import { isPostgresUrl, openStore } from '../../packages/server/src/store/open.js';
import type { SqlValue } from '../../packages/server/src/store/sql.js';
import { memoryDeviceKey } from '../helpers/device-keys.js';
import { type RawSql, rawSql } from '../helpers/raw-sql.js';

/**
 * What the seeded keys are:
 * - 'legacy': client keys bound to devices without a device key (bindings made before device
 *   proof): their requests carry no proof.
 * - 'signed': the same, but the pooled keys' devices hold a device key (public_key and
 *   key_thumbprint set, as a login with device proof leaves them): every request with such a key
 *   must carry a fresh proof. The keys outside the pool stay legacy (generating 100,000 P-256
 *   pairs would only slow the seeding).
 * - 'server': server keys (type 'server'), never bound to a device, so never asked for a proof.
 */
export type SeedKind = 'legacy' | 'signed' | 'server';

/** A key the bench can present, with the fingerprint of the device it is bound to. */
export interface Credential {
  readonly key: string;
  /** The key's id (key_…), for revoke-key. */
  readonly id: string;
  /** The bound device's fingerprint; for a server key, one made up for X-Sekuire-Device (not bound). */
  readonly fingerprint: string;
  /** The device key the binding holds: each request must then carry a fresh proof signed with it. */
  readonly deviceKey?: DeviceKey;
}

export interface SeedResult {
  readonly keys: number;
  readonly devices: number;
  readonly users: number;
  readonly organizations: number;
  readonly seconds: number;
  /** SQLite: the file's size; PostgreSQL: pg_database_size. */
  readonly dbBytes: number;
  /** poolSize keys spread evenly over all those created. */
  readonly pool: Credential[];
}

const KEYS_PER_USER = 10;
const KEYS_PER_ORG = 100;
const RANDOM_LENGTH = 32;
/** Rows per INSERT: well under both engines' parameter limits (SQLite 32766, PostgreSQL 65535). */
const BATCH_ROWS = 500;

/** Base62 text from a buffered random source; bytes >= 248 are skipped so every character is equally likely. */
function base62Source() {
  let buffer = randomBytes(0);
  let offset = 0;
  return (length: number): string => {
    let text = '';
    while (text.length < length) {
      if (offset >= buffer.length) {
        buffer = randomBytes(65_536);
        offset = 0;
      }
      const byte = buffer[offset++] ?? 255;
      if (byte < 248) text += BASE62.charAt(byte % 62);
    }
    return text;
  };
}

/** Rows of one table, written in multi-row INSERTs. */
class Batch {
  private rows: SqlValue[][] = [];
  constructor(
    private readonly sql: RawSql,
    private readonly table: string,
    private readonly columns: readonly string[],
  ) {}

  add(row: SqlValue[]): void {
    this.rows.push(row);
  }

  get full(): boolean {
    return this.rows.length >= BATCH_ROWS;
  }

  async flush(): Promise<void> {
    if (this.rows.length === 0) return;
    const one = `(${this.columns.map(() => '?').join(', ')})`;
    await this.sql.run(
      `INSERT INTO ${this.table} (${this.columns.join(', ')}) VALUES ${this.rows.map(() => one).join(', ')}`,
      this.rows.flat(),
    );
    this.rows = [];
  }
}

/**
 * The same rows create-key and login would write (users, organizations, workspaces, api_keys,
 * devices, audit_events), inserted in batches on the database's own connection, without the
 * per-key transaction and slow per-character randomness of createApiKey. last_seen_at and
 * last_used_at are `now`, so a status request within a minute of seeding reads without writing
 * (they are written at most once a minute per key).
 */
export async function seedDatabase(
  target: string,
  secret: Buffer,
  count: number,
  poolSize: number,
  now: Date = new Date(),
  kind: SeedKind = 'legacy',
): Promise<SeedResult> {
  const started = process.hrtime.bigint();
  // Opening the store applies the schema.
  await (await openStore(target)).close();
  const at = now.toISOString();
  const random = base62Source();
  const id = (prefix: string) => `${prefix}_${random(16)}`;
  const poolEvery = Math.max(1, Math.floor(count / poolSize));
  const pool: Credential[] = [];
  const sql = rawSql(target);
  let users = 0;
  let organizations = 0;
  try {
    const batches = {
      users: new Batch(sql, 'users', ['id', 'email', 'name', 'created_at']),
      organizations: new Batch(sql, 'organizations', ['id', 'name', 'created_at']),
      workspaces: new Batch(sql, 'workspaces', ['id', 'org_id', 'name', 'created_at']),
      keys: new Batch(sql, 'api_keys', [
        'id',
        'digest',
        'masked',
        'environment',
        'type',
        'name',
        'user_id',
        'workspace_id',
        'created_at',
        'last_used_at',
      ]),
      devices: new Batch(sql, 'devices', [
        'id',
        'key_id',
        'fingerprint',
        'name',
        'os',
        'os_version',
        'arch',
        'bound_at',
        'last_seen_at',
        'public_key',
        'key_thumbprint',
      ]),
      audit: new Batch(sql, 'audit_events', [
        'at',
        'event',
        'key_id',
        'fingerprint',
        'device_name',
        'client_ip',
        'detail',
      ]),
    };
    const keyType = kind === 'server' ? 'server' : 'client';
    // Parents before children: PostgreSQL checks the foreign keys as rows arrive.
    const order = [
      batches.organizations,
      batches.workspaces,
      batches.users,
      batches.keys,
      batches.devices,
      batches.audit,
    ];
    const flushAll = async () => {
      for (const batch of order) await batch.flush();
    };
    await sql.exec('BEGIN');
    let userId = '';
    let workspaceId = '';
    for (let i = 0; i < count; i++) {
      if (i % KEYS_PER_ORG === 0) {
        const orgId = id('org');
        workspaceId = id('ws');
        batches.organizations.add([orgId, `Bench org ${i / KEYS_PER_ORG}`, at]);
        batches.workspaces.add([workspaceId, orgId, 'Default', at]);
        organizations += 1;
      }
      if (i % KEYS_PER_USER === 0) {
        const n = i / KEYS_PER_USER;
        userId = id('user');
        batches.users.add([userId, `bench-${n}@example.com`, `bench-${n}`, at]);
        users += 1;
      }
      const body = random(RANDOM_LENGTH);
      const key = `sk_test_${body}${checksum(body)}`;
      if (i === 0) parseKey(key);
      const keyId = id('key');
      const masked = maskKey(key);
      batches.keys.add([
        keyId,
        keyDigest(secret, key),
        masked,
        'test',
        keyType,
        kind === 'server' ? 'Server key' : 'CLI key',
        userId,
        workspaceId,
        at,
        at,
      ]);
      batches.audit.add([
        at,
        'create',
        keyId,
        null,
        null,
        null,
        JSON.stringify({ masked, environment: 'test', type: keyType }),
      ]);
      const pooled = i % poolEvery === 0 && pool.length < poolSize;
      const fingerprint = randomBytes(32).toString('hex');
      if (kind === 'server') {
        // Server keys are never bound: no devices row, no bind event.
        if (pooled) pool.push({ key, id: keyId, fingerprint });
        if (order.some((batch) => batch.full)) await flushAll();
        continue;
      }
      const deviceKey = kind === 'signed' && pooled ? memoryDeviceKey() : undefined;
      const deviceId = id('dev');
      const deviceName = `bench-host-${String(i).padStart(6, '0')}`;
      batches.devices.add([
        deviceId,
        keyId,
        fingerprint,
        deviceName,
        'linux',
        '6.1.0',
        'x64',
        at,
        at,
        // The public JWK {kty, crv, x, y} as JSON, as storedDeviceKey (domain/proofs.ts) writes it.
        deviceKey === undefined ? null : JSON.stringify(deviceKey.publicJwk),
        deviceKey?.thumbprint ?? null,
      ]);
      batches.audit.add([
        at,
        'bind',
        keyId,
        fingerprint,
        deviceName,
        '127.0.0.1',
        JSON.stringify({ device_id: deviceId, os: 'linux', os_version: '6.1.0', arch: 'x64' }),
      ]);
      if (pooled) pool.push({ key, id: keyId, fingerprint, ...(deviceKey !== undefined && { deviceKey }) });
      if (order.some((batch) => batch.full)) await flushAll();
    }
    await flushAll();
    await sql.exec('COMMIT');
  } finally {
    await sql.close();
  }
  return {
    keys: count,
    devices: kind === 'server' ? 0 : count,
    users,
    organizations,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    dbBytes: await databaseBytes(target),
    pool,
  };
}

async function databaseBytes(target: string): Promise<number> {
  if (!isPostgresUrl(target)) return statSync(target).size;
  const sql = rawSql(target);
  try {
    const row = await sql.get<{ bytes: string }>(
      'SELECT pg_database_size(current_database())::text AS bytes',
    );
    return Number(row?.bytes ?? 0);
  } finally {
    await sql.close();
  }
}

/** Devices whose last_seen_at moved past `since`: the touch writes a load run caused. */
export async function countTouched(target: string, since: Date): Promise<number> {
  const store = await openStore(target, { mustExist: true });
  try {
    return await store.read.devices.touchedSince(since.toISOString());
  } finally {
    await store.close();
  }
}

/** What seedOrganizationKeys wrote. */
export interface OrganizationSeed {
  readonly keys: number;
  /** Keys bound to a device (active client keys). */
  readonly devices: number;
  readonly revoked: number;
  readonly serverKeys: number;
  readonly seconds: number;
  readonly dbBytes: number;
}

/**
 * `count` keys created by one user in the Default workspace of an organization they own (made
 * by create-user, so the user, the organization and the owner membership are the real
 * command's): what the dashboard's API Keys tab and GET /api/v1/keys list for them. A mix like
 * a real organization's: every 10th key revoked, every 10th a server key (never bound), the
 * other client keys bound to a device each; created a minute apart, newest first as listed;
 * half of them with an expiry. Rows as create-key and login write them, in batches.
 */
export async function seedOrganizationKeys(
  target: string,
  secret: Buffer,
  owner: { readonly userId: string; readonly orgId: string },
  count: number,
  now: Date = new Date(),
): Promise<OrganizationSeed> {
  const started = process.hrtime.bigint();
  const random = base62Source();
  const id = (prefix: string) => `${prefix}_${random(16)}`;
  const sql = rawSql(target);
  let devices = 0;
  let revoked = 0;
  let serverKeys = 0;
  const nowIso = now.toISOString();
  try {
    await sql.exec('BEGIN');
    const existing = await sql.get<{ id: string }>(
      "SELECT id FROM workspaces WHERE org_id = ? AND name = 'Default'",
      [owner.orgId],
    );
    const workspaceId = existing?.id ?? id('ws');
    if (existing === undefined) {
      await sql.run('INSERT INTO workspaces (id, org_id, name, created_at) VALUES (?, ?, ?, ?)', [
        workspaceId,
        owner.orgId,
        'Default',
        nowIso,
      ]);
    }
    const keys = new Batch(sql, 'api_keys', [
      'id',
      'digest',
      'masked',
      'environment',
      'type',
      'name',
      'user_id',
      'workspace_id',
      'created_at',
      'expires_at',
      'revoked_at',
      'last_used_at',
    ]);
    const bound = new Batch(sql, 'devices', [
      'id',
      'key_id',
      'fingerprint',
      'name',
      'os',
      'os_version',
      'arch',
      'bound_at',
      'last_seen_at',
      'last_ip',
    ]);
    const audit = new Batch(sql, 'audit_events', [
      'at',
      'event',
      'key_id',
      'fingerprint',
      'device_name',
      'client_ip',
      'actor_user_id',
      'detail',
    ]);
    const order = [keys, bound, audit];
    const minute = 60_000;
    for (let i = 0; i < count; i++) {
      const createdAt = new Date(now.getTime() - (i + 1) * minute).toISOString();
      const environment = i % 3 === 0 ? 'live' : 'test';
      const type = i % 10 === 5 ? 'server' : 'client';
      const isRevoked = i % 10 === 7;
      const body = random(RANDOM_LENGTH);
      const key = `sk_${environment}_${body}${checksum(body)}`;
      if (i === 0) parseKey(key);
      const keyId = id('key');
      const masked = maskKey(key);
      const expiresAt = i % 2 === 0 ? new Date(now.getTime() + 90 * 86_400_000).toISOString() : null;
      keys.add([
        keyId,
        keyDigest(secret, key),
        masked,
        environment,
        type,
        `${type === 'server' ? 'Server' : 'CLI'} key ${String(count - i).padStart(4, '0')}`,
        owner.userId,
        workspaceId,
        createdAt,
        expiresAt,
        isRevoked ? nowIso : null,
        i % 4 === 0 ? null : nowIso,
      ]);
      audit.add([
        createdAt,
        'create',
        keyId,
        null,
        null,
        '127.0.0.1',
        owner.userId,
        JSON.stringify({ masked, environment, type }),
      ]);
      if (isRevoked) revoked += 1;
      if (type === 'server') serverKeys += 1;
      if (type === 'client' && !isRevoked) {
        const deviceId = id('dev');
        const fingerprint = randomBytes(32).toString('hex');
        const deviceName = `laptop-${String(i).padStart(4, '0')}`;
        bound.add([
          deviceId,
          keyId,
          fingerprint,
          deviceName,
          'linux',
          '6.1.0',
          'x64',
          createdAt,
          nowIso,
          '127.0.0.1',
        ]);
        audit.add([
          createdAt,
          'bind',
          keyId,
          fingerprint,
          deviceName,
          '127.0.0.1',
          null,
          JSON.stringify({ device_id: deviceId, os: 'linux', os_version: '6.1.0', arch: 'x64' }),
        ]);
        devices += 1;
      }
      if (order.some((batch) => batch.full)) for (const batch of order) await batch.flush();
    }
    for (const batch of order) await batch.flush();
    await sql.exec('COMMIT');
  } finally {
    await sql.close();
  }
  return {
    keys: count,
    devices,
    revoked,
    serverKeys,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    dbBytes: await databaseBytes(target),
  };
}

/**
 * Accounts that can sign in with the same password as `fromUserId` (its scrypt hash copied,
 * so the same cost): the sign-in timing needs several, as each takes 10 attempts per 15 min.
 */
export async function cloneSignInAccounts(
  target: string,
  fromUserId: string,
  emails: readonly string[],
  now: Date = new Date(),
): Promise<void> {
  const sql = rawSql(target);
  try {
    const row = await sql.get<{ password_hash: string | null }>(
      'SELECT password_hash FROM users WHERE id = ?',
      [fromUserId],
    );
    if (row?.password_hash === null || row?.password_hash === undefined) {
      throw new Error(`user ${fromUserId} has no password`);
    }
    const random = base62Source();
    for (const email of emails) {
      await sql.run('INSERT INTO users (id, email, name, created_at, password_hash) VALUES (?, ?, ?, ?, ?)', [
        `user_${random(16)}`,
        email,
        email,
        now.toISOString(),
        row.password_hash,
      ]);
    }
  } finally {
    await sql.close();
  }
}
