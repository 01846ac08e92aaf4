// Turns every failure (ours, Fastify's, Node's) into the contract's JSON error body.
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StoreError } from '../store/errors.js';
import { ApiError } from './api-error.js';

/** `request`, when there is one, lets the line name the request it belongs to. */
export type ErrorLog = (message: string, request?: FastifyRequest) => void;

export const NO_STORE = 'no-store';

/** Fastify's own client errors, by code, in the contract's words; anything else 4xx is invalid_request. */
function frameworkError(error: FastifyError): ApiError | undefined {
  switch (error.code) {
    case 'FST_CSRF_MISSING_SECRET':
    case 'FST_CSRF_INVALID_TOKEN':
      return new ApiError(
        403,
        'csrf_failed',
        'A change made with the session cookie needs the CSRF token of the page (header X-CSRF-Token).',
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'payload_too_large', 'The request body is larger than the server accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(
        400,
        'invalid_request',
        'The request body must be JSON (Content-Type: application/json).',
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'invalid_request', 'The request body is not valid JSON.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'invalid_request', 'The Content-Length header does not match the body.');
    case 'FST_ERR_BAD_URL':
      return new ApiError(400, 'invalid_request', 'The request URL is malformed.');
  }
  const status = error.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError(400, 'invalid_request', 'The request is malformed.');
  }
  return undefined;
}

function send(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply
    .code(error.statusCode)
    .headers(error.headers)
    .header('cache-control', NO_STORE)
    .send(error.body());
}

/** Error handler, 404 handler and no-store on every response; details of a 500 go to the log only. */
export function installErrorReplies(app: FastifyInstance, log: ErrorLog): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', NO_STORE);
    return payload;
  });

  app.setNotFoundHandler((_request, reply) =>
    send(reply, new ApiError(404, 'not_found', 'No such endpoint.')),
  );

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ApiError) return send(reply, error);
    // The database is down or busy: clients retry (the CLI says the backend is unreachable).
    if (error instanceof StoreError && error.kind === 'unavailable') {
      return send(
        reply,
        new ApiError(
          503,
          'service_unavailable',
          'The server cannot reach its database; retry shortly.',
          {},
          {
            'retry-after': '1',
          },
        ),
      );
    }
    const known = frameworkError(error);
    if (known !== undefined) return send(reply, known);
    log(
      `sekuire-server: unexpected error in ${request.method} ${request.routeOptions.url ?? '(no route)'}: ${
        error.stack ?? String(error)
      }`,
      request,
    );
    return send(reply, new ApiError(500, 'internal_error', 'Internal server error.'));
  });
}

/** For Fastify's `frameworkErrors`: a URL it cannot decode, before any route or hook runs. */
export function frameworkErrorReply(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  send(reply, frameworkError(error) ?? new ApiError(400, 'invalid_request', 'The request is malformed.'));
}

/**
 * For Node's `clientError`: a request the HTTP parser rejected or that took too long. There
 * is no Fastify reply yet, so the response is written to the socket, which is then closed.
 */
export function clientErrorReply(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, body] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', new ApiError(408, 'request_timeout', 'The request took too long to arrive.')]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            new ApiError(431, 'invalid_request', 'The request headers are too large.'),
          ]
        : [400, 'Bad Request', new ApiError(400, 'invalid_request', 'The request is not valid HTTP.')];
  const text = JSON.stringify(body.body());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nCache-Control: ${NO_STORE}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}
