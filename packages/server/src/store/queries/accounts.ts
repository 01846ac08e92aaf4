// Users, organizations (with members and roles) and workspaces.
import type { Sql } from '../sql.js';

export type Role = 'owner' | 'admin' | 'member';
export const ROLES: readonly Role[] = ['owner', 'admin', 'member'];

export interface UserRow {
  readonly id: string;
  readonly email: string;
  readonly name: string;
}

export interface NamedRow {
  readonly id: string;
  readonly name: string;
}

export interface MembershipRow extends NamedRow {
  readonly role: Role;
}

/** What signing in needs: the stored hash (null until a password is set). */
export interface Credentials extends UserRow {
  readonly password_hash: string | null;
}

export interface Profile extends UserRow {
  readonly created_at: string;
  readonly last_login_at: string | null;
}

// Organization and workspace names are unique regardless of case on both engines (a unique
// index on lower() in PostgreSQL, NOCASE columns in SQLite), so inserts say ON CONFLICT DO
// NOTHING without a target, and lookups compare lower() on both sides. Emails are stored and
// looked up in one form (domain/emails.ts, normalizeEmail), compared as they are: a database's
// lower() folds by its locale, and the two engines would not agree.
export function accountQueries(sql: Sql) {
  /** `email` as normalizeEmail leaves it. */
  const userByEmail = (email: string): Promise<UserRow | undefined> =>
    sql.get<UserRow>('SELECT id, email, name FROM users WHERE email = ?', [email]);

  return {
    userByEmail,

    /** Inserts the user unless the email exists (normalized: domain/emails.ts); returns the stored row. */
    async ensureUser(user: UserRow, at: string): Promise<UserRow> {
      await sql.run(
        'INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [user.id, user.email, user.name, at],
      );
      return (await userByEmail(user.email)) as UserRow;
    },

    async renameUser(id: string, name: string): Promise<void> {
      await sql.run('UPDATE users SET name = ? WHERE id = ?', [name, id]);
    },

    /** `email` as normalizeEmail leaves it. */
    credentials(email: string): Promise<Credentials | undefined> {
      return sql.get<Credentials>('SELECT id, email, name, password_hash FROM users WHERE email = ?', [
        email,
      ]);
    },

    profile(id: string): Promise<Profile | undefined> {
      return sql.get<Profile>('SELECT id, email, name, created_at, last_login_at FROM users WHERE id = ?', [
        id,
      ]);
    },

    async setPassword(id: string, hash: string): Promise<void> {
      await sql.run('UPDATE users SET password_hash = ? WHERE id = ?', [hash, id]);
    },

    async signedIn(id: string, at: string): Promise<void> {
      await sql.run('UPDATE users SET last_login_at = ? WHERE id = ?', [at, id]);
    },

    /** Whether anyone can sign in yet (start says how to make someone who can). */
    async anyoneCanSignIn(): Promise<boolean> {
      return (
        (await sql.get('SELECT 1 AS found FROM users WHERE password_hash IS NOT NULL LIMIT 1')) !== undefined
      );
    },

    /**
     * An organization by name (any case), created if new. `personal_user_id` says whose own it
     * is, if anyone's: the caller must not hand a person's own organization to someone else.
     */
    async ensureOrganization(
      org: NamedRow,
      at: string,
    ): Promise<NamedRow & { personal_user_id: string | null }> {
      await sql.run(
        'INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
        [org.id, org.name, at],
      );
      return (await sql.get<NamedRow & { personal_user_id: string | null }>(
        'SELECT id, name, personal_user_id FROM organizations WHERE lower(name) = lower(?)',
        [org.name],
      )) as NamedRow & { personal_user_id: string | null };
    },

    /** A user's own organization; false when its name is taken (nothing is inserted then). */
    async insertPersonalOrganization(org: NamedRow, at: string, userId: string): Promise<boolean> {
      return (
        (await sql.run(
          'INSERT INTO organizations (id, name, created_at, personal_user_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
          [org.id, org.name, at, userId],
        )) === 1
      );
    },

    personalOrganization(userId: string): Promise<NamedRow | undefined> {
      return sql.get<NamedRow>('SELECT id, name FROM organizations WHERE personal_user_id = ?', [userId]);
    },

    async ensureWorkspace(workspace: NamedRow, orgId: string, at: string): Promise<NamedRow> {
      await sql.run(
        'INSERT INTO workspaces (id, org_id, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [workspace.id, orgId, workspace.name, at],
      );
      return (await sql.get<NamedRow>(
        'SELECT id, name FROM workspaces WHERE org_id = ? AND lower(name) = lower(?)',
        [orgId, workspace.name],
      )) as NamedRow;
    },

    /** Adds the user to the organization with this role unless already a member; returns the role held. */
    async ensureMembership(userId: string, orgId: string, role: Role, at: string): Promise<Role> {
      await sql.run(
        'INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [userId, orgId, role, at],
      );
      const row = await sql.get<{ role: Role }>(
        'SELECT role FROM memberships WHERE user_id = ? AND org_id = ?',
        [userId, orgId],
      );
      return (row as { role: Role }).role;
    },

    async setRole(userId: string, orgId: string, role: Role): Promise<void> {
      await sql.run('UPDATE memberships SET role = ? WHERE user_id = ? AND org_id = ?', [
        role,
        userId,
        orgId,
      ]);
    },

    organization(id: string): Promise<NamedRow | undefined> {
      return sql.get<NamedRow>('SELECT id, name FROM organizations WHERE id = ?', [id]);
    },

    workspace(id: string): Promise<(NamedRow & { org_id: string }) | undefined> {
      return sql.get<NamedRow & { org_id: string }>('SELECT id, name, org_id FROM workspaces WHERE id = ?', [
        id,
      ]);
    },

    /** The user's organizations, oldest membership first. */
    memberships(userId: string): Promise<MembershipRow[]> {
      return sql.all<MembershipRow>(
        `SELECT o.id, o.name, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = ? ORDER BY m.created_at, o.id`,
        [userId],
      );
    },
  };
}

export type AccountQueries = ReturnType<typeof accountQueries>;
