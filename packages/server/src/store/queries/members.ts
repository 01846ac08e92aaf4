// An organization's people as owners and admins manage them: list, change a role, remove.
import type { Sql } from '../sql.js';
import type { Role } from './accounts.js';

export interface MemberRow {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  readonly joined_at: string;
  readonly last_login_at: string | null;
}

export function memberQueries(sql: Sql) {
  return {
    /** Owners first, then admins, then members; by email within each. */
    list(orgId: string): Promise<MemberRow[]> {
      return sql.all<MemberRow>(
        `SELECT u.id, u.email, u.name, m.role, m.created_at AS joined_at, u.last_login_at
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = ?
         ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.email`,
        [orgId],
      );
    },

    member(orgId: string, userId: string): Promise<MemberRow | undefined> {
      return sql.get<MemberRow>(
        `SELECT u.id, u.email, u.name, m.role, m.created_at AS joined_at, u.last_login_at
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = ? AND m.user_id = ?`,
        [orgId, userId],
      );
    },

    async owners(orgId: string): Promise<number> {
      const row = await sql.get<{ n: number }>(
        "SELECT count(*) AS n FROM memberships WHERE org_id = ? AND role = 'owner'",
        [orgId],
      );
      return Number(row?.n ?? 0);
    },

    async count(orgId: string): Promise<number> {
      const row = await sql.get<{ n: number }>('SELECT count(*) AS n FROM memberships WHERE org_id = ?', [
        orgId,
      ]);
      return Number(row?.n ?? 0);
    },

    async remove(orgId: string, userId: string): Promise<boolean> {
      return (
        (await sql.run('DELETE FROM memberships WHERE org_id = ? AND user_id = ?', [orgId, userId])) === 1
      );
    },

    /** The password goes: nobody signs in as this person again until create-user sets one. */
    async clearPassword(userId: string): Promise<void> {
      await sql.run('UPDATE users SET password_hash = NULL WHERE id = ?', [userId]);
    },

    /** The person's keys that still work, in the organization's workspaces (every one when orgId is null). */
    workingKeys(
      userId: string,
      orgId: string | null,
    ): Promise<{ id: string; masked: string; org_id: string }[]> {
      const inOrg = orgId === null ? '' : ' AND w.org_id = ?';
      return sql.all<{ id: string; masked: string; org_id: string }>(
        `SELECT k.id, k.masked, w.org_id FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
         WHERE k.user_id = ? AND k.revoked_at IS NULL${inOrg} ORDER BY k.created_at, k.id`,
        orgId === null ? [userId] : [userId, orgId],
      );
    },

    /** What an invitation link needs to know about the person it names. */
    inviteState(
      userId: string,
    ): Promise<
      { id: string; email: string; has_password: number; last_login_at: string | null } | undefined
    > {
      return sql.get(
        `SELECT id, email, CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS has_password, last_login_at
         FROM users WHERE id = ?`,
        [userId],
      );
    },

    /** Sets a first password: false when one was set meanwhile (an invitation works once). */
    async setFirstPassword(userId: string, hash: string): Promise<boolean> {
      return (
        (await sql.run('UPDATE users SET password_hash = ? WHERE id = ? AND password_hash IS NULL', [
          hash,
          userId,
        ])) === 1
      );
    },

    async transferKey(keyId: string, toUserId: string): Promise<void> {
      await sql.run('UPDATE api_keys SET user_id = ? WHERE id = ?', [toUserId, keyId]);
    },
  };
}

export type MemberQueries = ReturnType<typeof memberQueries>;
