// What the transport may show of a request: headers for --verbose, text for errors, never a secret.
import type { ApiKey } from '@sekuire/shared/key';
import { redactKeys } from '../redact.js';

const SECRET_HEADERS = new Set(['x-api-key', 'authorization', 'proxy-authorization', 'cookie']);

export function isSecretHeader(name: string): boolean {
  return SECRET_HEADERS.has(name.toLowerCase());
}

/** The key's masked form when the value is the key, else `[redacted]`. */
function maskValue(value: string, key: ApiKey | undefined): string {
  return key !== undefined && value === key.value ? key.masked : '[redacted]';
}

/** A copy for logs: the key masked (sk_live_abc...xyz), any other credential `[redacted]`; a scheme kept. */
export function redactHeaders(headers: Record<string, string>, key?: ApiKey): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!SECRET_HEADERS.has(lower)) {
      out[name] = value;
      continue;
    }
    const scheme = lower === 'x-api-key' || lower === 'cookie' ? null : /^(\S+)\s+(\S.*)$/.exec(value.trim());
    out[name] = scheme ? `${scheme[1]} ${maskValue(scheme[2] ?? '', key)}` : maskValue(value, key);
  }
  return out;
}

/** Removes from `text` every secret a request carried: the key (any part of it) and other credentials. */
export function scrubber(headers: Record<string, string>, key: ApiKey | undefined): (text: string) => string {
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!isSecretHeader(name)) continue;
    for (const part of [value, ...value.split(/\s+/)]) if (part.length >= 8) secrets.push(part);
  }
  secrets.sort((a, b) => b.length - a.length);
  return (text) => {
    let out = redactKeys(text, key);
    for (const secret of secrets) out = out.split(secret).join('[redacted]');
    return out;
  };
}
