// Queries on users, organizations, workspaces and API keys, prepared once per database handle.
import type { KeyEnvironment } from '../core/key.js';
import type { Db } from './db.js';

export interface UserRow {
  readonly id: string;
  readonly email: string;
  readonly name: string;
}

export interface NamedRow {
  readonly id: string;
  readonly name: string;
}

export interface KeyRow {
  readonly id: string;
  readonly masked: string;
  readonly environment: KeyEnvironment;
  readonly name: string;
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
}

/** A key with everything a request needs, found by its digest in one query. */
export interface KeyRecord {
  readonly key: KeyRow;
  readonly digest: Buffer;
  readonly user: UserRow;
  readonly organization: NamedRow;
  readonly workspace: NamedRow;
}

export interface NewKey extends KeyRow {
  readonly digest: Buffer;
  readonly user_id: string;
  readonly workspace_id: string;
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

const KEY_COLUMNS = 'k.id, k.masked, k.environment, k.name, k.created_at, k.expires_at, k.revoked_at';

export function accountQueries(db: Db) {
  const insertUser = db.prepare<[string, string, string, string]>(
    'INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (email) DO NOTHING',
  );
  const renameUser = db.prepare<[string, string]>('UPDATE users SET name = ? WHERE email = ?');
  const userByEmail = db.prepare<[string], UserRow>('SELECT id, email, name FROM users WHERE email = ?');
  const insertOrg = db.prepare<[string, string, string]>(
    'INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
  );
  const orgByName = db.prepare<[string], NamedRow>('SELECT id, name FROM organizations WHERE name = ?');
  const insertWorkspace = db.prepare<[string, string, string, string]>(
    'INSERT INTO workspaces (id, org_id, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (org_id, name) DO NOTHING',
  );
  const workspaceByName = db.prepare<[string, string], NamedRow>(
    'SELECT id, name FROM workspaces WHERE org_id = ? AND name = ?',
  );
  const insertKey = db.prepare<[NewKey]>(
    `INSERT INTO api_keys (id, digest, masked, environment, name, user_id, workspace_id, created_at, expires_at, revoked_at)
     VALUES (@id, @digest, @masked, @environment, @name, @user_id, @workspace_id, @created_at, @expires_at, @revoked_at)`,
  );
  const keyByDigest = db.prepare<[Buffer], KeyRecordRow>(
    `SELECT ${KEY_COLUMNS}, k.digest,
            u.id AS user_id, u.email AS user_email, u.name AS user_name,
            o.id AS org_id, o.name AS org_name, w.id AS ws_id, w.name AS ws_name
     FROM api_keys k
     JOIN users u ON u.id = k.user_id
     JOIN workspaces w ON w.id = k.workspace_id
     JOIN organizations o ON o.id = w.org_id
     WHERE k.digest = ?`,
  );
  const keyById = db.prepare<[string], KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.id = ?`);
  const revokeKey = db.prepare<[string, string]>(
    'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
  );

  return {
    /** The user with this email (case-insensitive), created if new; a given name replaces the old. */
    ensureUser(
      id: string,
      email: string,
      name: string | undefined,
      fallbackName: string,
      at: string,
    ): UserRow {
      insertUser.run(id, email, name ?? fallbackName, at);
      if (name !== undefined) renameUser.run(name, email);
      return userByEmail.get(email) as UserRow;
    },

    ensureOrganization(id: string, name: string, at: string): NamedRow {
      insertOrg.run(id, name, at);
      return orgByName.get(name) as NamedRow;
    },

    ensureWorkspace(id: string, orgId: string, name: string, at: string): NamedRow {
      insertWorkspace.run(id, orgId, name, at);
      return workspaceByName.get(orgId, name) as NamedRow;
    },

    insertKey(key: NewKey): void {
      insertKey.run(key);
    },

    keyByDigest(digest: Buffer): KeyRecord | undefined {
      const row = keyByDigest.get(digest);
      if (row === undefined) return undefined;
      return {
        key: {
          id: row.id,
          masked: row.masked,
          environment: row.environment,
          name: row.name,
          created_at: row.created_at,
          expires_at: row.expires_at,
          revoked_at: row.revoked_at,
        },
        digest: row.digest,
        user: { id: row.user_id, email: row.user_email, name: row.user_name },
        organization: { id: row.org_id, name: row.org_name },
        workspace: { id: row.ws_id, name: row.ws_name },
      };
    },

    keyById(id: string): KeyRow | undefined {
      return keyById.get(id);
    },

    /** Sets revoked_at unless already set; true when this call revoked the key. */
    revokeKey(id: string, at: string): boolean {
      return revokeKey.run(at, id).changes === 1;
    },
  };
}

export type AccountQueries = ReturnType<typeof accountQueries>;
