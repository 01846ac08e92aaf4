// The network policy: timeouts, retries, backoff and caps, and the settings that change them.
import { UsageError } from '../errors.js';
import { cleanText } from '../text.js';

export interface NetworkPolicy {
  /** TCP connect, proxy CONNECT and TLS handshake of one attempt. */
  connectTimeoutMs: number;
  /** One attempt, from connecting to the last byte of the answer. */
  attemptTimeoutMs: number;
  /** All attempts and the waits between them. */
  deadlineMs: number;
  /** Attempts after the first. */
  retries: number;
  retryAfterCapMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  maxBodyBytes: number;
  maxRedirects: number;
}

export const DEFAULT_POLICY: NetworkPolicy = Object.freeze({
  connectTimeoutMs: 5000,
  attemptTimeoutMs: 10_000,
  deadlineMs: 25_000,
  retries: 2,
  retryAfterCapMs: 10_000,
  backoffBaseMs: 250,
  backoffCapMs: 2000,
  maxBodyBytes: 1024 * 1024,
  maxRedirects: 3,
});

// Above this, setTimeout overflows; nobody waits an hour for an auth check anyway.
const MAX_SECONDS = 3600;
const MAX_RETRIES = 10;

/** What the user may change: from environment variables or config.json. */
export interface PolicySettings {
  readonly timeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly retries?: number;
}

function quoted(text: string): string {
  return `"${cleanText(text, 40)}"`;
}

/** Seconds as milliseconds (at least 1); `source` names the variable or setting in the message. */
export function parseSeconds(text: string, source: string): number {
  const trimmed = text.trim();
  const value = /^(\d+(\.\d*)?|\.\d+)$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!(value > 0 && value <= MAX_SECONDS)) {
    throw new UsageError(
      `${source} must be a number of seconds above 0 and at most ${MAX_SECONDS} (decimals allowed, e.g. 2.5); got ${quoted(trimmed)}.`,
      'invalid_setting',
      { details: { setting: source } },
    );
  }
  return Math.max(1, Math.round(value * 1000));
}

export function parseRetries(text: string, source: string): number {
  const trimmed = text.trim();
  const value = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!(value <= MAX_RETRIES)) {
    throw new UsageError(
      `${source} must be a whole number from 0 to ${MAX_RETRIES}; got ${quoted(trimmed)}.`,
      'invalid_setting',
      { details: { setting: source } },
    );
  }
  return value;
}

/** The default policy with the user's settings applied; no limit is longer than the deadline. */
export function networkPolicy(settings: PolicySettings = {}): NetworkPolicy {
  const deadlineMs = settings.timeoutMs ?? DEFAULT_POLICY.deadlineMs;
  const attemptTimeoutMs = Math.min(DEFAULT_POLICY.attemptTimeoutMs, deadlineMs);
  return {
    ...DEFAULT_POLICY,
    deadlineMs,
    attemptTimeoutMs,
    connectTimeoutMs: Math.min(
      settings.connectTimeoutMs ?? DEFAULT_POLICY.connectTimeoutMs,
      attemptTimeoutMs,
    ),
    retries: settings.retries ?? DEFAULT_POLICY.retries,
  };
}

/** "250 ms", "1 s", "2.5 s": how long a limit was, in the words of a message. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${Number((ms / 1000).toFixed(1))} s`;
}
