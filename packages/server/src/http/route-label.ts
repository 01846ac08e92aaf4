// The route of a request as logs and metrics name it: its template, never the path a client sent.
import type { FastifyRequest } from 'fastify';

/** For a request no route matched: its path is whatever anyone made up. */
export const UNMATCHED_ROUTE = 'unmatched';

/** `/api/v1/keys/:id`, not `/api/v1/keys/key_123`: ids stay out, and the label values stay few. */
export function routeLabel(request: FastifyRequest): string {
  return request.routeOptions.url ?? UNMATCHED_ROUTE;
}
