// Browser and device-code login requests ("grants"): created, approved or denied, exchanged once.
import type { KeyEnvironment } from '@sekuire/shared/key';
import type { Sql } from '../sql.js';

export type GrantFlow = 'loopback' | 'device';

export interface GrantRow {
  readonly id: string;
  readonly flow: GrantFlow;
  readonly secret_digest: Buffer;
  readonly user_code: string | null;
  readonly redirect_uri: string | null;
  readonly code_challenge: string | null;
  readonly fingerprint: string | null;
  readonly device_name: string;
  readonly device_os: string;
  readonly os_version: string | null;
  readonly arch: string | null;
  readonly requested_ip: string | null;
  readonly created_at: string;
  readonly expires_at: string;
  readonly interval_seconds: number | null;
  readonly last_polled_at: string | null;
  readonly approved_by: string | null;
  readonly approved_at: string | null;
  readonly denied_at: string | null;
  readonly exchanged_at: string | null;
  readonly key_id: string | null;
  /** The asking device's key (device code: from the start; browser login: at the exchange). */
  readonly public_key: string | null;
  readonly key_thumbprint: string | null;
  /**
   * The new key's environment as the approver chose it; null before approval, and for a grant
   * approved before the choice existed (its key gets the one default).
   */
  readonly key_environment: KeyEnvironment | null;
  /** With key_environment: the chosen lifetime in days, null for never. */
  readonly key_expires_in_days: number | null;
}

const COLUMNS = `id, flow, secret_digest, user_code, redirect_uri, code_challenge, fingerprint, device_name, device_os,
  os_version, arch, requested_ip, created_at, expires_at, interval_seconds, last_polled_at, approved_by, approved_at,
  denied_at, exchanged_at, key_id, public_key, key_thumbprint, key_environment, key_expires_in_days`;

export function grantQueries(sql: Sql) {
  return {
    async insert(grant: GrantRow): Promise<void> {
      await sql.run(
        `INSERT INTO cli_grants (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          grant.id,
          grant.flow,
          grant.secret_digest,
          grant.user_code,
          grant.redirect_uri,
          grant.code_challenge,
          grant.fingerprint,
          grant.device_name,
          grant.device_os,
          grant.os_version,
          grant.arch,
          grant.requested_ip,
          grant.created_at,
          grant.expires_at,
          grant.interval_seconds,
          grant.last_polled_at,
          grant.approved_by,
          grant.approved_at,
          grant.denied_at,
          grant.exchanged_at,
          grant.key_id,
          grant.public_key,
          grant.key_thumbprint,
          grant.key_environment,
          grant.key_expires_in_days,
        ],
      );
    },

    byId(id: string): Promise<GrantRow | undefined> {
      return sql.get<GrantRow>(`SELECT ${COLUMNS} FROM cli_grants WHERE id = ?`, [id]);
    },

    bySecret(digest: Buffer): Promise<GrantRow | undefined> {
      return sql.get<GrantRow>(`SELECT ${COLUMNS} FROM cli_grants WHERE secret_digest = ?`, [digest]);
    },

    byUserCode(userCode: string): Promise<GrantRow | undefined> {
      return sql.get<GrantRow>(`SELECT ${COLUMNS} FROM cli_grants WHERE user_code = ?`, [userCode]);
    },

    /**
     * Records a poll of an undecided grant unless another was recorded after `notAfter`; false
     * when one was (a poll too soon, or two at once: only one of them counts).
     */
    async polled(id: string, at: string, notAfter: string): Promise<boolean> {
      return (
        (await sql.run(
          `UPDATE cli_grants SET last_polled_at = ?
           WHERE id = ? AND approved_at IS NULL AND denied_at IS NULL
             AND (last_polled_at IS NULL OR last_polled_at <= ?)`,
          [at, id, notAfter],
        )) === 1
      );
    },

    /**
     * Approves an undecided grant with the key's chosen environment and lifetime, or denies it
     * (lifetime undefined); false when someone decided first.
     */
    async decide(
      id: string,
      userId: string,
      at: string,
      lifetime: { environment: KeyEnvironment; expiresInDays: number | null } | undefined,
    ): Promise<boolean> {
      const decided =
        lifetime === undefined
          ? sql.run(
              'UPDATE cli_grants SET approved_by = ?, denied_at = ? WHERE id = ? AND approved_at IS NULL AND denied_at IS NULL',
              [userId, at, id],
            )
          : sql.run(
              `UPDATE cli_grants SET approved_by = ?, approved_at = ?, key_environment = ?, key_expires_in_days = ?
               WHERE id = ? AND approved_at IS NULL AND denied_at IS NULL`,
              [userId, at, lifetime.environment, lifetime.expiresInDays, id],
            );
      return (await decided) === 1;
    },

    /** Spends the grant; false when it was already spent. */
    async exchange(id: string, at: string, keyId: string): Promise<boolean> {
      return (
        (await sql.run(
          'UPDATE cli_grants SET exchanged_at = ?, key_id = ? WHERE id = ? AND exchanged_at IS NULL',
          [at, keyId, id],
        )) === 1
      );
    },
  };
}

export type GrantQueries = ReturnType<typeof grantQueries>;
