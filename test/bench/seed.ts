// Fills a server database with N keys, each bound to its own device, in one transaction.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { BASE62, checksum, maskKey, parseKey } from '../../src/core/key.js';
import { keyDigest } from '../../src/server/domain/digest.js';
import { isPostgresUrl, openStore } from '../../src/server/store/open.js';

/** A key the bench can present, with the fingerprint of the device it is bound to. */
export interface Credential {
  readonly key: string;
  readonly fingerprint: string;
}

export interface SeedResult {
  readonly keys: number;
  readonly devices: number;
  readonly users: number;
  readonly organizations: number;
  readonly seconds: number;
  readonly dbBytes: number;
  /** poolSize keys spread evenly over all those created. */
  readonly pool: Credential[];
}

const KEYS_PER_USER = 10;
const KEYS_PER_ORG = 100;
const RANDOM_LENGTH = 32;

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

/**
 * The same rows create-key and login would write (users, organizations, workspaces, api_keys,
 * devices, audit_events), through the server's own queries, without the per-key
 * transaction and slow per-character randomness of createApiKey. last_seen_at is `now`, so a
 * status request within a minute of seeding reads without writing (bindings.ts touches it at
 * most once a minute).
 */
export async function seedDatabase(
  target: string,
  secret: Buffer,
  count: number,
  poolSize: number,
  now: Date = new Date(),
): Promise<SeedResult> {
  const started = process.hrtime.bigint();
  const at = now.toISOString();
  const random = base62Source();
  const id = (prefix: string) => `${prefix}_${random(16)}`;
  const poolEvery = Math.max(1, Math.floor(count / poolSize));
  const pool: Credential[] = [];
  const store = await openStore(target);
  let users = 0;
  let organizations = 0;
  try {
    await store.transaction(async (tx) => {
      let user = { id: '' };
      let workspace = { id: '' };
      for (let i = 0; i < count; i++) {
        if (i % KEYS_PER_ORG === 0) {
          const org = await tx.accounts.ensureOrganization(
            { id: id('org'), name: `Bench org ${i / KEYS_PER_ORG}` },
            at,
          );
          workspace = await tx.accounts.ensureWorkspace({ id: id('ws'), name: 'Default' }, org.id, at);
          organizations += 1;
        }
        if (i % KEYS_PER_USER === 0) {
          const n = i / KEYS_PER_USER;
          user = await tx.accounts.ensureUser(
            { id: id('user'), email: `bench-${n}@example.com`, name: `bench-${n}` },
            at,
          );
          users += 1;
        }
        const body = random(RANDOM_LENGTH);
        const key = `sk_test_${body}${checksum(body)}`;
        if (i === 0) parseKey(key);
        const keyId = id('key');
        const masked = maskKey(key);
        await tx.keys.insert({
          id: keyId,
          digest: keyDigest(secret, key),
          masked,
          environment: 'test',
          type: 'client',
          name: 'CLI key',
          user_id: user.id,
          workspace_id: workspace.id,
          created_at: at,
          expires_at: null,
          revoked_at: null,
        });
        await tx.audit.record({
          at,
          event: 'create',
          key_id: keyId,
          detail: { masked, environment: 'test' },
        });
        const fingerprint = randomBytes(32).toString('hex');
        const deviceId = id('dev');
        const deviceName = `bench-host-${String(i).padStart(6, '0')}`;
        await tx.devices.insert({
          id: deviceId,
          key_id: keyId,
          fingerprint,
          name: deviceName,
          os: 'linux',
          os_version: '6.1.0',
          arch: 'x64',
          bound_at: at,
          last_seen_at: at,
        });
        await tx.audit.record({
          at,
          event: 'bind',
          key_id: keyId,
          fingerprint,
          device_name: deviceName,
          client_ip: '127.0.0.1',
          detail: { device_id: deviceId, os: 'linux', os_version: '6.1.0', arch: 'x64' },
        });
        if (i % poolEvery === 0 && pool.length < poolSize) pool.push({ key, fingerprint });
      }
    });
  } finally {
    await store.close();
  }
  return {
    keys: count,
    devices: count,
    users,
    organizations,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    dbBytes: isPostgresUrl(target) ? 0 : statSync(target).size,
    pool,
  };
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
