// Keys that leak: revoked on GitHub's secret-scanning report or anyone's public report, the reason kept for the owner.

import { createHash } from 'node:crypto';
import { KeyFormatError, parseKey } from '@sekuire/shared/key';
import type { RevocationReason, RevocationRow } from '../store/queries/revocations.js';
import type { Store } from '../store/store.js';
import { digestsEqual, keyDigest, type Secrets } from './digest.js';
import { keyStatus } from './keys.js';
import { MAX_TEXT_LENGTH, shownText } from './text.js';

/** Text from a report, kept for the audit trail and the owner's page: one line, capped. */
const MAX_URL = 2_000;

/** One credential someone reports as exposed. */
export interface LeakReport {
  readonly token: string;
  /** GitHub's match: where the token was found (may be empty), how, and the pattern's name. */
  readonly url?: string;
  readonly source?: string;
  readonly type?: string;
}

export interface LeakContext {
  readonly reason: RevocationReason;
  /** For the audit trail: `github_secret_scanning` or `public_revocation`. */
  readonly via: string;
  readonly clientIp: string;
  readonly now: Date;
  /** Revocations are confirmed by every instance; this hears how long that took. */
  readonly onConfirmed?: (seconds: number) => void;
}

export interface LeakFinding {
  /** Whether the token is a key this server issued (active, revoked or expired). */
  readonly issued: boolean;
  /** Whether this report revoked it (false when it was already revoked, or expired). */
  readonly revoked: boolean;
}

function wellFormed(token: string): boolean {
  try {
    parseKey(token);
    return true;
  } catch (error) {
    if (error instanceof KeyFormatError) return false;
    throw error;
  }
}

function oneLine(value: string | undefined, max: number): string | null {
  // The one text rule's cleaning (domain/text.ts): what it refuses is removed, the rest capped.
  const text = shownText(value, '', max);
  return text === '' ? null : text;
}

/** The key a token is, under any of the secrets; undefined when it is none of ours. */
async function issuedKey(store: Store, secrets: Secrets, token: string) {
  for (const secret of secrets) {
    const digest = keyDigest(secret, token);
    const state = await store.keyState(digest);
    if (state !== undefined && digestsEqual(state.record.digest, digest)) return state.record.key;
  }
  return undefined;
}

/**
 * Each reported token: the offline checksum first (a token that fails it is none of ours, and
 * costs no lookup); a key of ours that still works is revoked, with the reason and where it was
 * found, in one transaction that every running instance confirms. A report of a key already
 * revoked (GitHub sending the same match again) changes nothing.
 */
export async function revokeLeakedKeys(
  store: Store,
  secrets: Secrets,
  reports: readonly LeakReport[],
  context: LeakContext,
): Promise<LeakFinding[]> {
  const findings: LeakFinding[] = [];
  for (const report of reports) {
    const token = report.token.trim();
    const key = wellFormed(token) ? await issuedKey(store, secrets, token) : undefined;
    if (key === undefined) {
      findings.push({ issued: false, revoked: false });
      continue;
    }
    if (keyStatus(key, context.now) !== 'active') {
      findings.push({ issued: true, revoked: false });
      continue;
    }
    const at = context.now.toISOString();
    const revocation: RevocationRow = {
      key_id: key.id,
      at,
      reason: context.reason,
      url: oneLine(report.url, MAX_URL),
      source: oneLine(report.source, MAX_TEXT_LENGTH),
      token_type: oneLine(report.type, MAX_TEXT_LENGTH),
    };
    const revoked = await store.transaction(
      async (tx) => {
        await tx.lock('api_keys', key.id);
        if (!(await tx.keys.revoke(key.id, at))) return false;
        await tx.revocations.record(revocation);
        await tx.audit.record({
          at,
          event: 'revoke',
          key_id: key.id,
          client_ip: context.clientIp,
          detail: {
            masked: key.masked,
            reason: context.reason,
            via: context.via,
            ...(revocation.url !== null && { url: revocation.url }),
            ...(revocation.source !== null && { source: revocation.source }),
          },
        });
        return true;
      },
      { invalidates: true, ...(context.onConfirmed !== undefined && { onConfirmed: context.onConfirmed }) },
    );
    findings.push({ issued: true, revoked });
  }
  return findings;
}

/** GitHub's feedback: the SHA-256 of the token, hex, never the token itself. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Why a key was revoked, as its owner's page shows it. */
export interface RevocationView {
  readonly reason: RevocationReason;
  readonly at: string;
  readonly url: string | null;
  /** The URL is http(s): the page links it. Anything else is shown as text, never linked. */
  readonly linkable: boolean;
}

export function linkable(url: string | null): boolean {
  if (url === null) return false;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:';
  } catch {
    return false;
  }
}

/** The reasons recorded for these keys, by key id. */
export async function revocationReasons(
  store: Store,
  keyIds: readonly string[],
): Promise<Record<string, RevocationView>> {
  const views: Record<string, RevocationView> = {};
  if (keyIds.length === 0) return views;
  for (const row of await store.read.revocations.forKeys(keyIds)) {
    views[row.key_id] = { reason: row.reason, at: row.at, url: row.url, linkable: linkable(row.url) };
  }
  return views;
}
