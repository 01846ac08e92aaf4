// Whether the client reached us over https: this server's own TLS, or a trusted proxy's X-Forwarded-Proto.
import type { FastifyRequest } from 'fastify';

/**
 * The one test of "is this https" for cookie names and flags, HSTS and the URLs we build. Fastify's
 * `request.protocol` reads X-Forwarded-Proto only from a proxy `--trust-proxy` trusts
 * (trust-proxy.ts); otherwise it is the socket's own TLS.
 */
export function overHttps(request: FastifyRequest): boolean {
  return request.protocol.toLowerCase() === 'https';
}
