// Validation of flag and environment values; a bad value is a UsageError (exit 2).
import { KEY_ENVIRONMENTS, type KeyEnvironment } from '@sekuire/shared/key';
import { isEmailAddress } from '../domain/emails.js';
import { organizationNameProblem } from '../domain/keys.js';
import { MAX_TEXT_LENGTH, textProblem } from '../domain/text.js';
import { KEY_TYPES, type KeyType } from '../store/queries/keys.js';
import { UsageError } from './errors.js';

export const MAX_EXPIRY_DAYS = 3650;

/** `source` names where the value came from, e.g. "--port" or "SEKUIRE_SERVER_PORT". */
export function parsePort(text: string, source: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new UsageError(
      `${source} must be a port number from 0 to 65535 (0 picks a free port), not "${text}".`,
    );
  }
  return port;
}

/** 0 makes a key that has already expired: a way to test how clients handle key_expired. */
export function parseExpiryDays(text: string): number {
  const days = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(days >= 0 && days <= MAX_EXPIRY_DAYS)) {
    throw new UsageError(
      `--expires-in must be a whole number of days from 0 to ${MAX_EXPIRY_DAYS} (0: already expired), not "${text}".`,
    );
  }
  return days;
}

export function parseEmail(text: string): string {
  if (!isEmailAddress(text)) {
    throw new UsageError(`--email must be an email address like dev@example.com, not "${text}".`);
  }
  return text;
}

/** A name for a person, key, organization or workspace: the one text rule (domain/text.ts). */
export function parseLabel(text: string, flag: string): string {
  const problem = textProblem(text);
  if (problem !== undefined) {
    throw new UsageError(
      `${flag} must be 1 to ${MAX_TEXT_LENGTH} characters on one line, without control or invisible characters (bidi controls, zero-width characters).`,
    );
  }
  return text;
}

/** --org: a label, and not the name of a person's own organization. */
export function parseOrganization(text: string): string {
  const name = parseLabel(text, '--org');
  const problem = organizationNameProblem(name);
  if (problem !== undefined) throw new UsageError(`--org: ${problem}`);
  return name;
}

export function parseEnvironment(text: string): KeyEnvironment {
  const environment = KEY_ENVIRONMENTS.find((candidate) => candidate === text);
  if (environment === undefined) throw new UsageError(`--env must be live or test, not "${text}".`);
  return environment;
}

export function parseKeyType(text: string): KeyType {
  const type = KEY_TYPES.find((candidate) => candidate === text);
  if (type === undefined) throw new UsageError(`--type must be client or server, not "${text}".`);
  return type;
}

export const MAX_AUDIT_RETENTION_DAYS = 36_500;

/** --audit-retention-days: whole days, 0 keeps the audit trail forever. */
export function parseRetentionDays(text: string): number {
  const days = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(days >= 0 && days <= MAX_AUDIT_RETENTION_DAYS)) {
    throw new UsageError(
      `--audit-retention-days must be a whole number of days from 0 to ${MAX_AUDIT_RETENTION_DAYS} (0 keeps everything), not "${text}".`,
    );
  }
  return days;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** The calendar has this day (Date.parse takes 2030-02-30 for 2 March). */
function realDay(year: string, month: string, day: string): boolean {
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day);
}

/**
 * An ISO 8601 date (midnight UTC) or time with its offset (Z or ±HH:MM: a time without one
 * would depend on the machine's zone), as the stored form: ISO 8601 in UTC.
 */
export function parseTime(text: string, flag: string): string {
  const date = ISO_DATE.exec(text) ?? ISO_TIME.exec(text);
  const [, year = '', month = '', day = ''] = date ?? [];
  const time =
    date === null || !realDay(year, month, day)
      ? Number.NaN
      : Date.parse(ISO_DATE.test(text) ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(time)) {
    throw new UsageError(
      `${flag} must be an ISO 8601 date or time with its offset (2030-01-31, 2030-01-31T12:00:00Z), not "${text}".`,
    );
  }
  return new Date(time).toISOString();
}
