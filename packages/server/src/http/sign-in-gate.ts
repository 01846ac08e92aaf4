// Who may try a password now (DASHBOARD.md "Sign-in limits"): a budget per client address, and
// a cap on each account's failures that browsers known to the account pass.
import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { normalizeEmail } from '../domain/emails.js';
import { isKnownBrowser, KNOWN_BROWSER_TTL_MS, knownBrowserMark } from '../domain/known-browsers.js';
import { signInCounter } from '../domain/sign-in-limits.js';
import { overHttps } from './scheme.js';
import type { WebDeps } from './session-auth.js';

export interface SignInGate {
  /** Before any hash: undefined when this attempt may go ahead, else the seconds to wait. */
  admit(request: FastifyRequest, email: string): Promise<number | undefined>;
  /** A wrong password (or an unknown email): counted against the account, whoever sent it. */
  failed(email: string): Promise<void>;
  /** A browser that signed in: known to that account from now on. */
  remember(reply: FastifyReply, email: string): void;
}

/** The cookie naming the account a browser last signed in to: __Host- whenever the request came over https. */
export function knownBrowserCookieName(https: boolean): string {
  return https ? '__Host-sekuire_known' : 'sekuire_known';
}

/** The email as counted: as stored and looked up (normalizeEmail); none is longer than 254 (RFC 5321). */
function accountKey(email: string): string {
  return normalizeEmail(email).slice(0, 254);
}

/**
 * Attempts are counted before any password is hashed (domain/sign-in-limits.ts), in the
 * database: every instance on it shares the counts. The address budget counts every attempt,
 * so one address cannot make the server hash for long. The account cap counts failures only
 * and is larger than one address's budget: whoever guesses from one address (the holder of a
 * leaked key, during an incident) closes that address, never the account. Guesses from many
 * addresses that reach the cap close the account to browsers it does not know; a browser that
 * signed in to it before still gets in, so its owner can reach the page where keys are revoked.
 */
export function signInGate(deps: WebDeps): SignInGate {
  const { perAddress, perAccount, windowMs } = deps.signInLimit;
  const counter = signInCounter(deps.store, windowMs);
  return {
    async admit(request, email) {
      const now = deps.now();
      const account = accountKey(email);
      const address = { key: `address ${normalizeIP(request.ip, 64)}`, max: perAddress };
      const waitForAddress = await counter.attempt([address], now);
      if (waitForAddress !== undefined) return waitForAddress;
      const waitForAccount = await counter.reached({ key: `account ${account}`, max: perAccount }, now);
      if (waitForAccount === undefined) return undefined;
      const mark = request.cookies[knownBrowserCookieName(overHttps(request))];
      return mark !== undefined && isKnownBrowser(deps.secrets, account, mark, now)
        ? undefined
        : waitForAccount;
    },
    failed(email) {
      return counter.count(`account ${accountKey(email)}`, deps.now());
    },
    remember(reply, email) {
      const now = deps.now();
      const https = overHttps(reply.request);
      reply.setCookie(knownBrowserCookieName(https), knownBrowserMark(deps.secret, accountKey(email), now), {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure: https,
        maxAge: KNOWN_BROWSER_TTL_MS / 1000,
      });
    },
  };
}
