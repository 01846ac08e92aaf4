// API keys: stored as keyed digests only; looked up by digest on every request (through the cache).
import type { KeyEnvironment } from '../../../core/key.js';
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
}

/** A key with everything a request needs, found by its digest in one query. */
export interface KeyRecord {
  readonly key: KeyRow;
  readonly digest: Buffer;
  readonly user: UserRow;
  readonly organization: NamedRow;
  readonly workspace: NamedRow;
}

export interface NewKey extends Omit<KeyRow, 'last_used_at'> {
  readonly digest: Buffer;
  readonly user_id: string;
  readonly workspace_id: string;
}

/** A key as an administrator lists it: with its owner and organization. */
export interface KeyListing extends KeyRow {
  readonly user_email: string;
  readonly org_name: string;
  readonly workspace_name: string;
}

interface KeyRecordRow extends KeyRow {
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
  'k.id, k.masked, k.environment, k.type, k.name, k.created_at, k.expires_at, k.revoked_at, k.last_used_at';

function keyRow(row: KeyRow): KeyRow {
  return {
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
        `INSERT INTO api_keys (id, digest, masked, environment, type, name, user_id, workspace_id, created_at, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          key.id,
          key.digest,
          key.masked,
          key.environment,
          key.type,
          key.name,
          key.user_id,
          key.workspace_id,
          key.created_at,
          key.expires_at,
          key.revoked_at,
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

    async byId(id: string): Promise<KeyRow | undefined> {
      const row = await sql.get<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.id = ?`, [id]);
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

    async touch(id: string, at: string): Promise<void> {
      await sql.run('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [at, id]);
    },

    /** Every key, or one user's (by email, any case), oldest first. */
    list(email?: string): Promise<KeyListing[]> {
      return sql.all<KeyListing>(
        `SELECT ${KEY_COLUMNS}, u.email AS user_email, o.name AS org_name, w.name AS workspace_name
         FROM api_keys k
         JOIN users u ON u.id = k.user_id
         JOIN workspaces w ON w.id = k.workspace_id
         JOIN organizations o ON o.id = w.org_id
         ${email === undefined ? '' : 'WHERE lower(u.email) = lower(?)'}
         ORDER BY k.created_at, k.id`,
        email === undefined ? [] : [email],
      );
    },
  };
}

export type KeyQueries = ReturnType<typeof keyQueries>;
