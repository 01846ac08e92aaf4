// Who is signed in: a Bearer access token (API clients) or the dashboard's session cookie.
// The types of request.cookies and reply.setCookie come with the plugin (registered in web.ts).

import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Secrets } from '../domain/digest.js';
import type { PasswordSlots } from '../domain/password-slots.js';
import type { ScryptCost } from '../domain/passwords.js';
import { type Authenticated, authenticateToken } from '../domain/sessions.js';
import type { Store } from '../store/store.js';
import { ApiError } from './api-error.js';
import type { Observer } from './observer.js';
import { identify } from './request-log.js';
import { overHttps } from './scheme.js';

export interface SignInLimit {
  /** Sign-in attempts per client address (IPv6: per /64) per window. */
  readonly perAddress: number;
  /**
   * Failed sign-ins per account (email) per window, from all addresses together; past it only
   * browsers known to the account may try. More than perAddress: one address never reaches it.
   */
  readonly perAccount: number;
  readonly windowMs: number;
}

export const DEFAULT_SIGN_IN_LIMIT: SignInLimit = { perAddress: 30, perAccount: 50, windowMs: 15 * 60_000 };

export interface WebDeps {
  readonly store: Store;
  /** Where unexpected errors are reported (the app's error log). */
  readonly logError: (message: string, request?: FastifyRequest) => void;
  readonly observe?: Observer;
  /** Keys new digests (the newest secret). */
  readonly secret: Buffer;
  /** Every secret, newest (secret) first: what a lookup by digest tries. */
  readonly secrets: Secrets;
  readonly now: () => Date;
  readonly passwordCost?: ScryptCost;
  /** Shared by every sign-in of this app: how many password hashes run at once. */
  readonly passwordSlots: PasswordSlots;
  readonly signInLimit: SignInLimit;
}

export interface Who extends Authenticated {
  readonly via: 'bearer' | 'cookie';
}

const WHO = 'sekuireWho';

/**
 * The cookie's name: __Host- (Secure, Path=/, no Domain) whenever the request came over https.
 * Decided per request, not per server: behind a proxy one instance may answer both.
 */
export function sessionCookieName(https: boolean): string {
  return https ? '__Host-sekuire_session' : 'sekuire_session';
}

export function csrfCookieName(https: boolean): string {
  return https ? '__Host-sekuire_csrf' : 'sekuire_csrf';
}

/** Registers the decorator and the hook that finds the session of every request in this scope. */
export function resolveSessions(app: FastifyInstance, deps: WebDeps): void {
  app.decorateRequest(WHO, null);
  app.addHook('onRequest', async (request) => {
    const authorization = request.headers.authorization;
    const bearer = authorization === undefined ? undefined : /^Bearer[ \t]+(\S+)$/i.exec(authorization)?.[1];
    if (bearer !== undefined) {
      const who = await authenticateToken(deps.store, deps.secrets, 'access', bearer, deps.now());
      if (who !== undefined) {
        request.setDecorator<Who>(WHO, { ...who, via: 'bearer' });
        identify(request, { user_id: who.user.id });
      }
      return;
    }
    const cookie = request.cookies[sessionCookieName(overHttps(request))];
    if (cookie === undefined) return;
    const who = await authenticateToken(deps.store, deps.secrets, 'cookie', cookie, deps.now());
    if (who !== undefined) {
      request.setDecorator<Who>(WHO, { ...who, via: 'cookie' });
      identify(request, { user_id: who.user.id });
    }
  });
}

export function who(request: FastifyRequest): Who | null {
  return request.getDecorator<Who | null>(WHO);
}

/** The signed-in person, or 401 invalid_token. */
export function requireWho(request: FastifyRequest): Who {
  const found = who(request);
  if (found === null) {
    throw new ApiError(
      'invalid_token',
      'Sign in first: send Authorization: Bearer <access_token> (from POST /api/v1/auth/login).',
    );
  }
  return found;
}

export function setSessionCookie(reply: FastifyReply, token: string, expires: Date): void {
  const https = overHttps(reply.request);
  reply.setCookie(sessionCookieName(https), token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: https,
    expires,
  });
}

export function clearSessionCookie(reply: FastifyReply): void {
  const https = overHttps(reply.request);
  reply.clearCookie(sessionCookieName(https), {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: https,
  });
}
