// Everything a person uses (sessions, keys API, dashboard pages), in one scope with its plugins.
import { createHmac } from 'node:crypto';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import helmet from '@fastify/helmet';
import type { FastifyPluginAsync } from 'fastify';
import { authApi } from './auth-api.js';
import { CSRF_SESSION_KEY, csrfSecretInCookie } from './csrf-cookie.js';
import { keysApi } from './keys-api.js';
import { movesApi } from './moves-api.js';
import { dashboard } from './pages/dashboard.js';
import { overHttps } from './scheme.js';
import { resolveSessions, type WebDeps, who } from './session-auth.js';
import { signInGate } from './sign-in-gate.js';

/** HSTS, a year, as @fastify/helmet would send it; over https only (a browser ignores it on http). */
const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * Registered beside the CLI API, not around it: the CLI's requests (the hot path) never run
 * these plugins' hooks. Each plugin replaces something we would otherwise write ourselves:
 * @fastify/cookie parses and sets cookies, @fastify/csrf-protection issues and checks CSRF
 * tokens (bound to the session, so a token from another session, or a tossed cookie, fails;
 * its secret's cookie: csrf-cookie.ts), @fastify/helmet sets the security headers (HSTS here,
 * per request).
 */
export const webSurfaces: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  await app.register(cookie);
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'none'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'connect-src': ["'self'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    // Sent below, per request: whether this one came over https is not known at start.
    strictTransportSecurity: false,
    crossOriginEmbedderPolicy: false,
  });
  app.addHook('onRequest', async (request, reply) => {
    if (overHttps(request)) reply.header('strict-transport-security', HSTS);
  });
  csrfSecretInCookie(app);
  await app.register(csrf, {
    sessionPlugin: '@fastify/session',
    sessionKey: CSRF_SESSION_KEY,
    getToken: (request) => {
      const header = request.headers['x-csrf-token'];
      if (typeof header === 'string') return header;
      return (request.body as { _csrf?: string } | undefined)?._csrf;
    },
    getUserInfo: (request) => who(request)?.sessionId ?? 'signed-out',
    csrfOpts: { hmacKey: createHmac('sha256', deps.secret).update('sekuire.csrf.v1').digest() },
  });
  resolveSessions(app, deps);
  // One gate for both ways in: guesses at an account through the API and the page meet one limit.
  const signIn = { ...deps, signInGate: signInGate(deps) };
  await app.register(authApi, signIn);
  await app.register(keysApi, deps);
  await app.register(movesApi, deps);
  await app.register(dashboard, signIn);
};
