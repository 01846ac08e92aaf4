// The CSRF secret's cookie, named and flagged for each request: __Host- and Secure over https only.
import type { FastifyInstance } from 'fastify';
import { overHttps } from './scheme.js';
import { csrfCookieName } from './session-auth.js';

/** Where @fastify/csrf-protection keeps the secret in a session (its `sessionKey`). */
export const CSRF_SESSION_KEY = '_csrf';

/**
 * @fastify/csrf-protection's own cookie mode takes one cookie name and one set of flags for the
 * whole app, but behind a proxy one instance answers https (a __Host-, Secure cookie) and plain
 * http (neither) alike. So the plugin runs in its '@fastify/session' mode, over this stand-in
 * session: reading the secret reads the cookie this request's scheme names, and the plugin
 * storing a new secret sets that cookie. Register it after @fastify/cookie (its cookies are
 * parsed by then) and with the plugin's sessionPlugin: '@fastify/session'.
 */
export function csrfSecretInCookie(app: FastifyInstance): void {
  app.decorateRequest('session', null);
  app.addHook('onRequest', async (request, reply) => {
    const https = overHttps(request);
    const name = csrfCookieName(https);
    const session = {
      get [CSRF_SESSION_KEY](): string | undefined {
        return request.cookies[name];
      },
      set [CSRF_SESSION_KEY](secret: string) {
        reply.setCookie(name, secret, { path: '/', sameSite: 'lax', httpOnly: true, secure: https });
      },
    };
    request.setDecorator('session', session);
  });
}
