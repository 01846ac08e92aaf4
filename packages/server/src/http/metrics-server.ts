// `start --metrics-port`: /metrics on a port of its own, so the API's port never exposes it.
import http from 'node:http';
import type { Metrics } from './metrics.js';
import { METRICS_PATH } from './metrics-api.js';

/** Resolves once listening; rejects with the listen error (EADDRINUSE…) for the caller to phrase. */
export function serveMetrics(metrics: Metrics, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== METRICS_PATH || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        .end('Not found: try /metrics\n');
      return;
    }
    metrics.text().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  // Scrapes are short: an idle scraper connection need not stay open long.
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
