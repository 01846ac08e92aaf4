// What an operator watches the app by: the request log, the metrics, readiness; and the observer routes report to.
import type { FastifyInstance } from 'fastify';
import type { Store } from '../store/store.js';
import type { Metrics } from './metrics.js';
import { installMetrics } from './metrics-api.js';
import { NO_OBSERVER, type Observer } from './observer.js';
import { installReadiness } from './readiness.js';
import { installRequestLog, type RequestLogOptions } from './request-log.js';

export interface OperationsOptions {
  readonly store: Store;
  readonly log?: RequestLogOptions;
  readonly metrics?: Metrics;
  /** Serve /metrics on the app's own port (start --metrics). */
  readonly serveMetrics?: boolean;
  readonly stopping?: () => boolean;
}

/** Call on the root app before any route: its hooks must see every request. */
export function installOperations(app: FastifyInstance, options: OperationsOptions): Observer {
  installRequestLog(app, options.log);
  if (options.metrics !== undefined) installMetrics(app, options.metrics, options.serveMetrics === true);
  installReadiness(app, options.store, options.stopping ?? (() => false));
  return options.metrics?.observer ?? NO_OBSERVER;
}
