// How a page is registered: it says whether it needs a session, and every form checks CSRF.
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { type Who, who } from '../session-auth.js';

/** A page for signed-in people only, or one anybody may open (sign-in itself). */
export type PageAccess = 'signed-in' | 'public';

/** Kept in each page route's config, where the route sweep test reads it. */
export interface PageConfig {
  readonly page: PageAccess;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the dashboard's pages only (pageRoutes). */
    page?: PageAccess;
  }
}

type SignedInHandler = (request: FastifyRequest, reply: FastifyReply, signedIn: Who) => Promise<unknown>;
type PublicHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface PageOptions {
  /**
   * Checked before the session (after a form's CSRF token): a request that is wrong whoever
   * sends it, such as a login link to another host, is refused without asking anyone to sign in.
   */
  readonly check?: (request: FastifyRequest) => void;
}

export interface PageRoutes {
  get(url: string, access: 'signed-in', handler: SignedInHandler, options?: PageOptions): void;
  get(url: string, access: 'public', handler: PublicHandler, options?: PageOptions): void;
  /** A form's target: its CSRF token is checked before anything else. */
  post(url: string, access: 'signed-in', handler: SignedInHandler, options?: PageOptions): void;
  post(url: string, access: 'public', handler: PublicHandler, options?: PageOptions): void;
}

/**
 * The one sign-in check: without a session, a page answers a redirect to /login that comes
 * back here (303), before its handler runs.
 */
export const requireSignIn: preHandlerHookHandler = (request, reply, done) => {
  if (who(request) === null) {
    void reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
    return;
  }
  done();
};

/** The only way the page modules add a route: a page cannot forget its sign-in or CSRF check. */
export function pageRoutes(app: FastifyInstance): PageRoutes {
  const add = (
    method: 'GET' | 'POST',
    url: string,
    access: PageAccess,
    handler: SignedInHandler | PublicHandler,
    options: PageOptions = {},
  ) => {
    const preHandler: preHandlerHookHandler[] = [];
    if (method === 'POST') preHandler.push(app.csrfProtection);
    const { check } = options;
    if (check !== undefined) {
      preHandler.push((request, _reply, done) => {
        try {
          check(request);
        } catch (error) {
          done(error as Error);
          return;
        }
        done();
      });
    }
    if (access === 'signed-in') preHandler.push(requireSignIn);
    const config: PageConfig = { page: access };
    app.route({
      method,
      url,
      config,
      preHandler,
      handler: (request, reply) => {
        if (access === 'public') return (handler as PublicHandler)(request, reply);
        // requireSignIn ran: there is a session.
        return (handler as SignedInHandler)(request, reply, who(request) as Who);
      },
    });
  };
  return {
    get: (url: string, access: PageAccess, handler: SignedInHandler | PublicHandler, options?: PageOptions) =>
      add('GET', url, access, handler, options),
    post: (
      url: string,
      access: PageAccess,
      handler: SignedInHandler | PublicHandler,
      options?: PageOptions,
    ) => add('POST', url, access, handler, options),
  } as PageRoutes;
}
