// Keys out of text: the one key pattern every redactor uses (output, HTTP events, backend text).
import { type ApiKey, maskKey, secretPart } from '@sekuire/shared/key';

/**
 * A key, or anything that starts like one and is longer than a masked key shows (3 + 3
 * characters after the prefix), so an already masked `sk_live_abc...xyz` stays as it is.
 */
const KEY_PATTERN = /sk_(?:live|test)_[0-9A-Za-z]{7,}/g;

/** Runs this long copied from a key's random part are treated as the key. */
const SECRET_RUN = 12;
const RUN_PATTERN = new RegExp(`[0-9A-Za-z]{${SECRET_RUN},}`, 'g');

export function looksLikeKey(text: string): boolean {
  return new RegExp(KEY_PATTERN.source).test(text);
}

/** Whether `run` holds at least SECRET_RUN consecutive characters of `secret`. */
function sharesSecret(run: string, secret: string): boolean {
  for (let start = 0; start + SECRET_RUN <= secret.length; start++) {
    if (run.includes(secret.slice(start, start + SECRET_RUN))) return true;
  }
  return false;
}

/**
 * Masks every key-shaped string. With the key in use, also removes its random part wherever
 * it appears without the prefix (a backend echoing it, or using it as a name).
 */
export function redactKeys(text: string, key?: ApiKey): string {
  const masked = text.replace(KEY_PATTERN, (match) => maskKey(match));
  if (key === undefined) return masked;
  const secret = secretPart(key);
  return masked.replace(RUN_PATTERN, (run) => (sharesSecret(run, secret) ? '[redacted]' : run));
}
