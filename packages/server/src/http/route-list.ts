// Every route the app registers, as Fastify saw it: the route sweep test walks this list, so a
// route added anywhere is swept without anyone remembering to list it.
import type { FastifyInstance, RouteOptions } from 'fastify';

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  /** The dashboard's pages say whether they need a session (pages/routes.ts). */
  readonly page: 'signed-in' | 'public' | undefined;
}

const ROUTES = 'sekuireRoutes';

/** Before any plugin is registered: onRoute sees the routes of every scope below the root. */
export function collectRoutes(app: FastifyInstance): void {
  const routes: RegisteredRoute[] = [];
  app.decorate(ROUTES, { getter: () => routes });
  app.addHook('onRoute', (route: RouteOptions) => {
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url, page: route.config?.page });
    }
  });
}

export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return (app as unknown as Record<typeof ROUTES, readonly RegisteredRoute[]>)[ROUTES];
}
