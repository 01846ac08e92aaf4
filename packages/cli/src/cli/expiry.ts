// The warning before a key expires: on stderr, naming the date and what to do; for login, status, whoami (and api).
import { join } from 'node:path';
import { sha256 } from '@sekuire/shared/sha256';
import { humanTime, timeUntil } from '../core/dates.js';
import { CredentialsFileError, KeyRejectedError } from '../core/errors.js';
import { readPrivateFile, writePrivateFileAtomic } from '../core/private-files.js';
import { loginCommandFor } from '../core/profiles.js';
import type { Context } from './context.js';
import { note } from './notes.js';

/** Within this, warn at most once per QUIET per key on this machine. */
export const EXPIRY_NOTICE_MS = 14 * 86_400_000;
/** Within this, warn on every run. */
export const EXPIRY_URGENT_MS = 86_400_000;
export const EXPIRY_QUIET_MS = 12 * 3_600_000;
/** When each key was last warned about, by a digest of the key (never the key): SEKUIRE_HOME/expiry-warned.json. */
export const EXPIRY_STATE_FILE = 'expiry-warned.json';

export interface ExpiringKey {
  /** The key itself: only a digest of it is written down. */
  readonly value: string;
  readonly masked: string;
  /** ISO 8601; null or '' for a key that never expires (or whose expiry is not known). */
  readonly expiresAt: string | null;
  /** The command that replaces the login: `sekuire login`, with --profile NAME for a named profile. */
  readonly loginCommand: string;
}

function keyTag(value: string): string {
  // The shared SHA-256, not node:crypto's: status --offline warns too, and loads no node:crypto.
  return sha256(value).toString('hex').slice(0, 16);
}

function readState(home: string): Record<string, string> {
  try {
    const file = readPrivateFile(join(home, EXPIRY_STATE_FILE), home);
    const parsed: unknown = file === undefined ? {} : JSON.parse(file.text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, string>)
      : {};
  } catch (error) {
    // A throttle that cannot be read warns again: never a reason to fail the command.
    if (error instanceof CredentialsFileError || error instanceof SyntaxError) return {};
    throw error;
  }
}

function remember(home: string, state: Record<string, string>, tag: string, now: Date): void {
  const kept = Object.fromEntries(
    Object.entries(state).filter(([, at]) => now.getTime() - Date.parse(at) < EXPIRY_NOTICE_MS),
  );
  try {
    writePrivateFileAtomic(
      home,
      EXPIRY_STATE_FILE,
      `${JSON.stringify({ ...kept, [tag]: now.toISOString() })}\n`,
    );
  } catch (error) {
    if (!(error instanceof CredentialsFileError)) throw error;
  }
}

/**
 * Warns on stderr when the key expires within 14 days (at most once per 12 hours per key on
 * this machine) or within 24 hours (every run). Never writes to stdout; returns the warning, if any.
 */
export function warnExpiry(ctx: Context, key: ExpiringKey): string | undefined {
  if (!key.expiresAt) return undefined;
  const at = Date.parse(key.expiresAt);
  const now = ctx.now();
  const left = at - now.getTime();
  if (Number.isNaN(at) || left <= 0 || left > EXPIRY_NOTICE_MS) return undefined;
  if (left > EXPIRY_URGENT_MS) {
    const tag = keyTag(key.value);
    const state = readState(ctx.home);
    const last = state[tag] === undefined ? Number.NaN : Date.parse(state[tag]);
    if (now.getTime() - last < EXPIRY_QUIET_MS) return undefined;
    remember(ctx.home, state, tag, now);
  }
  const warning = `Warning: the API key ${key.masked} expires ${timeUntil(at, now.getTime())}, at ${humanTime(key.expiresAt)}. Create a new key on the dashboard, then run '${key.loginCommand}' with it.`;
  note(ctx, warning);
  return warning;
}

/** `sekuire login`, naming the profile when it is not `default` (one rule, in core/profiles.ts). */
export { loginCommandFor };

/**
 * An expired key's refusal names the date it expired (the backend's, else the one stored at
 * login), and the login that replaces it: into the same profile when a named one stored it.
 */
export function expiredKeyError(
  error: KeyRejectedError,
  stored: string | null,
  path?: string,
  profile?: string,
): KeyRejectedError {
  const at = typeof error.details.expires_at === 'string' ? error.details.expires_at : stored;
  const when = at ? ` on ${humanTime(at)}` : '';
  const kept = path ? ` The stored credentials in ${path} were kept.` : '';
  return new KeyRejectedError(error.code, `The API key was rejected: it expired${when}.${kept}`, {
    hint: `Create a new key on the dashboard, then run '${loginCommandFor(profile)}'`,
    details: { ...error.details, expires_at: at, ...(path && { path }) },
  });
}
