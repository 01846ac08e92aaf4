// Counts every answered request into the app's metrics; serves them at /metrics when asked to on the main port.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from './metrics.js';
import { routeLabel } from './route-label.js';

export const METRICS_PATH = '/metrics';

/** On the app's root, before its routes: the hook sees every request, whichever plugin answers it. */
export function installMetrics(app: FastifyInstance, metrics: Metrics, serveOnMainPort: boolean): void {
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    metrics.request(request.method, routeLabel(request), reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  if (!serveOnMainPort) return;
  app.get(METRICS_PATH, async (_request, reply) => {
    const text = await metrics.text();
    return reply.type(metrics.contentType).send(text);
  });
}
