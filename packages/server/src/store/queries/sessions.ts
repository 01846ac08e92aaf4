// Sign-in sessions and their tokens, stored only as digests.
import type { Sql } from '../sql.js';
import type { UserRow } from './accounts.js';

export type SessionKind = 'api' | 'cookie';
export type TokenKind = 'access' | 'refresh' | 'cookie';

export interface SessionRow {
  readonly id: string;
  readonly user_id: string;
  readonly kind: SessionKind;
  readonly created_at: string;
  readonly expires_at: string;
  readonly ended_at: string | null;
  readonly client_ip: string | null;
}

export interface TokenRow {
  readonly digest: Buffer;
  readonly session_id: string;
  readonly kind: TokenKind;
  readonly created_at: string;
  readonly expires_at: string;
  readonly used_at: string | null;
}

/** A presented token with its session and user, in one query. */
export interface TokenRecord {
  readonly token: TokenRow;
  readonly session: SessionRow;
  readonly user: UserRow;
}

interface TokenRecordRow extends TokenRow {
  s_user_id: string;
  s_kind: SessionKind;
  s_created_at: string;
  s_expires_at: string;
  s_ended_at: string | null;
  s_client_ip: string | null;
  u_email: string;
  u_name: string;
}

export function sessionQueries(sql: Sql) {
  return {
    async insertSession(session: SessionRow): Promise<void> {
      await sql.run(
        'INSERT INTO sessions (id, user_id, kind, created_at, expires_at, client_ip) VALUES (?, ?, ?, ?, ?, ?)',
        [
          session.id,
          session.user_id,
          session.kind,
          session.created_at,
          session.expires_at,
          session.client_ip,
        ],
      );
    },

    /** secret_id: which server secret made the digest (domain/digest.ts secretId). */
    async insertToken(token: TokenRow & { readonly secret_id: string }): Promise<void> {
      await sql.run(
        'INSERT INTO session_tokens (digest, secret_id, session_id, kind, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
        [token.digest, token.secret_id, token.session_id, token.kind, token.created_at, token.expires_at],
      );
    },

    /** Replaces a digest made under an older secret; false when another request already did. */
    async redigestToken(from: Buffer, to: Buffer, secretId: string): Promise<boolean> {
      return (
        (await sql.run('UPDATE session_tokens SET digest = ?, secret_id = ? WHERE digest = ?', [
          to,
          secretId,
          from,
        ])) === 1
      );
    },

    /** Tokens that still work at `at` (unspent, unexpired, their session open), by the secret of their digest. */
    async workingTokensBySecret(at: string): Promise<{ secret_id: string | null; session_id: string }[]> {
      return sql.all(
        `SELECT t.secret_id, t.session_id FROM session_tokens t JOIN sessions s ON s.id = t.session_id
         WHERE t.used_at IS NULL AND t.expires_at > ? AND s.ended_at IS NULL AND s.expires_at > ?`,
        [at, at],
      );
    },

    async token(digest: Buffer): Promise<TokenRecord | undefined> {
      const row = await sql.get<TokenRecordRow>(
        `SELECT t.digest, t.session_id, t.kind, t.created_at, t.expires_at, t.used_at,
                s.user_id AS s_user_id, s.kind AS s_kind, s.created_at AS s_created_at,
                s.expires_at AS s_expires_at, s.ended_at AS s_ended_at, s.client_ip AS s_client_ip,
                u.email AS u_email, u.name AS u_name
         FROM session_tokens t
         JOIN sessions s ON s.id = t.session_id
         JOIN users u ON u.id = s.user_id
         WHERE t.digest = ?`,
        [digest],
      );
      if (row === undefined) return undefined;
      return {
        token: {
          digest: row.digest,
          session_id: row.session_id,
          kind: row.kind,
          created_at: row.created_at,
          expires_at: row.expires_at,
          used_at: row.used_at,
        },
        session: {
          id: row.session_id,
          user_id: row.s_user_id,
          kind: row.s_kind,
          created_at: row.s_created_at,
          expires_at: row.s_expires_at,
          ended_at: row.s_ended_at,
          client_ip: row.s_client_ip,
        },
        user: { id: row.s_user_id, email: row.u_email, name: row.u_name },
      };
    },

    /** Marks a refresh token used; false when it already was (someone else used it first). */
    async useToken(digest: Buffer, at: string): Promise<boolean> {
      return (
        (await sql.run('UPDATE session_tokens SET used_at = ? WHERE digest = ? AND used_at IS NULL', [
          at,
          digest,
        ])) === 1
      );
    },

    /**
     * Ends every live session of a person; the number ended. Every instance reads sessions from
     * the database on each request, so they all refuse the tokens from the next request on.
     */
    endSessionsOf(userId: string, at: string, reason: string): Promise<number> {
      return sql.run(
        'UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL',
        [at, reason, userId],
      );
    },

    /** Ends the session: every token of it stops working at once. */
    async endSession(id: string, at: string, reason: string): Promise<boolean> {
      return (
        (await sql.run('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL', [
          at,
          reason,
          id,
        ])) === 1
      );
    },
  };
}

export type SessionQueries = ReturnType<typeof sessionQueries>;
