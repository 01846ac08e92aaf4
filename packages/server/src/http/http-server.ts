// The Node HTTP(S) server under Fastify, configured so slow or idle clients cannot hold it.
import http from 'node:http';
import https from 'node:https';

export interface ServerTimeouts {
  /** Time allowed to receive one whole request, headers and body; 0 disables it. */
  readonly requestTimeout: number;
  /** How long an idle keep-alive connection stays open between requests. */
  readonly keepAliveTimeout: number;
  /** Inactivity on a socket (nothing sent or received) after which it is destroyed. */
  readonly connectionTimeout: number;
}

export interface TlsMaterial {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  requestTimeout: 10_000,
  keepAliveTimeout: 5_000,
  connectionTimeout: 30_000,
};

type Handler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

/**
 * Node checks request and header deadlines on a timer (30 s by default), so a deadline is
 * only as precise as that timer: keep it a fraction of the request timeout.
 */
function checkingInterval(requestTimeout: number): number {
  if (requestTimeout <= 0) return 30_000;
  return Math.min(1_000, Math.max(20, Math.floor(requestTimeout / 4)));
}

/** Throws when the TLS material is unusable (not PEM, key does not match the certificate). */
export function createNodeServer(handler: Handler, timeouts: ServerTimeouts, tls?: TlsMaterial): http.Server {
  const options: http.ServerOptions = {
    requestTimeout: timeouts.requestTimeout,
    // Headers are part of the request: the same deadline, so partial headers are cut off too.
    headersTimeout: timeouts.requestTimeout,
    keepAliveTimeout: timeouts.keepAliveTimeout,
    connectionsCheckingInterval: checkingInterval(timeouts.requestTimeout),
  };
  // https.Server has every http.Server method Fastify calls; its type just does not say so.
  const server =
    tls === undefined
      ? http.createServer(options, handler)
      : (https.createServer({ ...options, cert: tls.cert, key: tls.key }, handler) as unknown as http.Server);
  server.keepAliveTimeout = timeouts.keepAliveTimeout;
  server.setTimeout(timeouts.connectionTimeout);
  return server;
}
