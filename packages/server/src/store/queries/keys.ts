// API keys: stored as keyed digests only; looked up by digest on every request (through the cache).
import type { KeyEnvironment } from '@sekuire/shared/key';
import type { Sql } from '../sql.js';
import type { NamedRow, UserRow } from './accounts.js';

export type KeyType = 'client' | 'server';
export const KEY_TYPES: readonly KeyType[] = ['client', 'server'];

export interface KeyRow {
  readonly id: string;
  readonly masked: string;
  readonly environment: KeyEnvironment;
  readonly type: KeyType;
  readonly name: string;
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
  readonly last_used_at: string | null;
  /** The key a roll made to replace this one, which then expires after its grace period. */
  readonly replaced_by: string | null;
  /** What the key may do beyond the CLI API (domain/permissions.ts); stored as a JSON array. */
  readonly permissions: readonly string[];
}

/** A key with everything a request needs, found by its digest in one query. */
export interface KeyRecord {
  readonly key: KeyRow;
  readonly digest: Buffer;
  readonly user: UserRow;
  readonly organization: NamedRow;
  readonly workspace: NamedRow;
}

export interface NewKey extends Omit<KeyRow, 'last_used_at' | 'replaced_by' | 'permissions'> {
  /** None when absent. */
  readonly permissions?: readonly string[];
  readonly digest: Buffer;
  /** Which server secret made the digest (domain/digest.ts secretId). */
  readonly secret_id: string;
  readonly user_id: string;
  readonly workspace_id: string;
}

/** A key as an administrator lists it: with its owner and organization. */
export interface KeyListing extends KeyRow {
  readonly user_email: string;
  readonly org_name: string;
  readonly workspace_name: string;
}

interface KeyRecordRow extends Stored<KeyRow> {
  digest: Buffer;
  user_id: string;
  user_email: string;
  user_name: string;
  org_id: string;
  org_name: string;
  ws_id: string;
  ws_name: string;
}

const KEY_COLUMNS =
  'k.id, k.masked, k.environment, k.type, k.name, k.created_at, k.expires_at, k.revoked_at, k.last_used_at, k.replaced_by, k.permissions';

/** A row as the database holds it: permissions as JSON text. */
type Stored<T extends { permissions: readonly string[] }> = Omit<T, 'permissions'> & { permissions: string };

function storedPermissions(text: string): string[] {
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed.filter((value): value is string => typeof value === 'string') : [];
}

/** A row with its permissions read from their JSON text. */
function withPermissions<T extends { permissions: readonly string[] }>(row: Stored<T>): T {
  return { ...row, permissions: storedPermissions(row.permissions) } as unknown as T;
}

/** A key as its owner (or an admin of its organization) sees it on the dashboard and the API. */
export interface VisibleKey extends KeyRow {
  readonly workspace_id: string;
  readonly workspace_name: string;
  readonly org_id: string;
  readonly org_name: string;
  readonly creator_id: string;
  readonly creator_email: string;
  readonly device_id: string | null;
  readonly device_name: string | null;
  readonly device_os: string | null;
  readonly device_bound_at: string | null;
  readonly device_last_seen_at: string | null;
}

/**
 * Who may see and manage what (one rule for the API, the dashboard and every check): the keys
 * a user created in an organization they belong to, and every key of an organization where
 * they are an owner or admin. Anything else does not exist for them.
 */
const VISIBLE_KEYS = `
  FROM api_keys k
  JOIN users u ON u.id = k.user_id
  JOIN workspaces w ON w.id = k.workspace_id
  JOIN organizations o ON o.id = w.org_id
  JOIN memberships m ON m.org_id = o.id AND m.user_id = ?
  LEFT JOIN devices d ON d.key_id = k.id AND d.unbound_at IS NULL
  WHERE (k.user_id = m.user_id OR m.role IN ('owner', 'admin'))`;

/**
 * The same rule on api_keys, workspaces and memberships alone. The other joins of VISIBLE_KEYS
 * never add or remove a row (a key's user, workspace and organization are foreign keys that
 * must exist; a key has at most one active device, devices_active_per_key), so counting the
 * keys, or picking the ones a page shows, need not look up a creator and a device for every
 * key: with 1,000 keys that was most of the API Keys page's database time on PostgreSQL.
 */
const VISIBLE_KEY_IDS = `
  FROM api_keys k
  JOIN workspaces w ON w.id = k.workspace_id
  JOIN memberships m ON m.org_id = w.org_id AND m.user_id = ?
  WHERE (k.user_id = m.user_id OR m.role IN ('owner', 'admin'))`;

const VISIBLE_COLUMNS = `${KEY_COLUMNS}, w.id AS workspace_id, w.name AS workspace_name, o.id AS org_id,
  o.name AS org_name, u.id AS creator_id, u.email AS creator_email, d.id AS device_id, d.name AS device_name,
  d.os AS device_os, d.bound_at AS device_bound_at, d.last_seen_at AS device_last_seen_at`;

function keyRow(row: Stored<KeyRow>): KeyRow {
  return {
    permissions: storedPermissions(row.permissions),
    replaced_by: row.replaced_by,
    id: row.id,
    masked: row.masked,
    environment: row.environment,
    type: row.type,
    name: row.name,
    created_at: row.created_at,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    last_used_at: row.last_used_at,
  };
}

export function keyQueries(sql: Sql) {
  return {
    async insert(key: NewKey): Promise<void> {
      await sql.run(
        `INSERT INTO api_keys (id, digest, secret_id, masked, environment, type, name, user_id, workspace_id, created_at, expires_at, revoked_at, permissions)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          key.id,
          key.digest,
          key.secret_id,
          key.masked,
          key.environment,
          key.type,
          key.name,
          key.user_id,
          key.workspace_id,
          key.created_at,
          key.expires_at,
          key.revoked_at,
          JSON.stringify(key.permissions ?? []),
        ],
      );
    },

    async byDigest(digest: Buffer): Promise<KeyRecord | undefined> {
      const row = await sql.get<KeyRecordRow>(
        `SELECT ${KEY_COLUMNS}, k.digest,
                u.id AS user_id, u.email AS user_email, u.name AS user_name,
                o.id AS org_id, o.name AS org_name, w.id AS ws_id, w.name AS ws_name
         FROM api_keys k
         JOIN users u ON u.id = k.user_id
         JOIN workspaces w ON w.id = k.workspace_id
         JOIN organizations o ON o.id = w.org_id
         WHERE k.digest = ?`,
        [digest],
      );
      if (row === undefined) return undefined;
      return {
        key: keyRow(row),
        digest: row.digest,
        user: { id: row.user_id, email: row.user_email, name: row.user_name },
        organization: { id: row.org_id, name: row.org_name },
        workspace: { id: row.ws_id, name: row.ws_name },
      };
    },

    /** Replaces a digest made under an older secret; false when another request already did. */
    async redigest(from: Buffer, to: Buffer, secretId: string): Promise<boolean> {
      return (
        (await sql.run('UPDATE api_keys SET digest = ?, secret_id = ? WHERE digest = ?', [
          to,
          secretId,
          from,
        ])) === 1
      );
    },

    /** Keys that still work (neither revoked nor expired at `at`), by the secret of their digest. */
    async workingBySecret(
      at: string,
    ): Promise<{ secret_id: string | null; id: string; masked: string; name: string }[]> {
      return sql.all(
        `SELECT secret_id, id, masked, name FROM api_keys
         WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
         ORDER BY created_at, id`,
        [at],
      );
    },

    async byId(id: string): Promise<KeyRow | undefined> {
      const row = await sql.get<Stored<KeyRow>>(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.id = ?`, [id]);
      return row === undefined ? undefined : keyRow(row);
    },

    /** Sets revoked_at unless already set; true when this call revoked the key. */
    async revoke(id: string, at: string): Promise<boolean> {
      return (
        (await sql.run('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [
          at,
          id,
        ])) === 1
      );
    },

    /** A roll: the old key expires at `expiresAt` and points at its replacement. */
    async replace(id: string, replacement: string, expiresAt: string): Promise<void> {
      await sql.run('UPDATE api_keys SET replaced_by = ?, expires_at = ? WHERE id = ?', [
        replacement,
        expiresAt,
        id,
      ]);
    },

    /**
     * The keys a user may see, newest first; `limit` and `offset` page through them (the page's
     * keys are picked first, then only they are joined to their creator and device).
     */
    async visibleTo(userId: string, page?: { limit: number; offset: number }): Promise<VisibleKey[]> {
      if (page === undefined) {
        const rows = await sql.all<Stored<VisibleKey>>(
          `SELECT ${VISIBLE_COLUMNS} ${VISIBLE_KEYS} ORDER BY k.created_at DESC, k.id`,
          [userId],
        );
        return rows.map(withPermissions<VisibleKey>);
      }
      const rows = await sql.all<Stored<VisibleKey>>(
        `SELECT ${VISIBLE_COLUMNS}
         FROM (SELECT k.id ${VISIBLE_KEY_IDS} ORDER BY k.created_at DESC, k.id LIMIT ? OFFSET ?) shown
         JOIN api_keys k ON k.id = shown.id
         JOIN users u ON u.id = k.user_id
         JOIN workspaces w ON w.id = k.workspace_id
         JOIN organizations o ON o.id = w.org_id
         LEFT JOIN devices d ON d.key_id = k.id AND d.unbound_at IS NULL
         ORDER BY k.created_at DESC, k.id`,
        [userId, page.limit, page.offset],
      );
      return rows.map(withPermissions<VisibleKey>);
    },

    async countVisibleTo(userId: string): Promise<number> {
      const row = await sql.get<{ n: number }>(`SELECT count(*) AS n ${VISIBLE_KEY_IDS}`, [userId]);
      return Number(row?.n ?? 0);
    },

    /** One key, if the user may see it: undefined both for another organization's key and for no key. */
    async visibleKey(userId: string, keyId: string): Promise<VisibleKey | undefined> {
      const row = await sql.get<Stored<VisibleKey>>(
        `SELECT ${VISIBLE_COLUMNS} ${VISIBLE_KEYS} AND k.id = ?`,
        [userId, keyId],
      );
      return row === undefined ? undefined : withPermissions<VisibleKey>(row);
    },

    async touch(id: string, at: string): Promise<void> {
      await sql.run('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [at, id]);
    },

    /** Every key, or one user's (by email, as normalizeEmail leaves it), oldest first. */
    async list(email?: string): Promise<KeyListing[]> {
      const rows = await sql.all<Stored<KeyListing>>(
        `SELECT ${KEY_COLUMNS}, u.email AS user_email, o.name AS org_name, w.name AS workspace_name
         FROM api_keys k
         JOIN users u ON u.id = k.user_id
         JOIN workspaces w ON w.id = k.workspace_id
         JOIN organizations o ON o.id = w.org_id
         ${email === undefined ? '' : 'WHERE u.email = ?'}
         ORDER BY k.created_at, k.id`,
        email === undefined ? [] : [email],
      );
      return rows.map(withPermissions<KeyListing>);
    },
  };
}

export type KeyQueries = ReturnType<typeof keyQueries>;
