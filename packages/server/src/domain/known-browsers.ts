// A browser that signed in to an account before carries a mark of it (a long-lived cookie), so
// that guesses at the account from elsewhere, which close the account to new browsers once they
// reach its cap, never close it to its owner's own browser (GitHub's "verified devices").
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How long a browser stays known after it last signed in. */
export const KNOWN_BROWSER_TTL_MS = 180 * 24 * 60 * 60_000;

function mac(secret: Buffer, email: string, issuedSeconds: number): string {
  // A key of its own, derived from the server secret: a mark is no key digest, CSRF token or session.
  const key = createHmac('sha256', secret).update('sekuire.known-browser.v1').digest();
  return createHmac('sha256', key).update(`${email}\n${issuedSeconds}`).digest('base64url');
}

/** The mark for a browser that just signed in to `email` (normalized as the sign-in limits count it). */
export function knownBrowserMark(secret: Buffer, email: string, now: Date): string {
  const issued = Math.floor(now.getTime() / 1000);
  return `${issued}.${mac(secret, email, issued)}`;
}

/** True when `mark` was made by this server, under any of its secrets, for `email` and has not expired. */
export function isKnownBrowser(secrets: readonly Buffer[], email: string, mark: string, now: Date): boolean {
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(mark);
  if (match === null) return false;
  const issued = Number(match[1]);
  if (issued * 1000 + KNOWN_BROWSER_TTL_MS <= now.getTime()) return false;
  const given = Buffer.from(match[2] as string);
  return secrets.some((secret) => {
    const expected = Buffer.from(mac(secret, email, issued));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}
