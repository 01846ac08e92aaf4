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
        'csrf_failed',
        'A change made with the session cookie needs the CSRF token of the page (header X-CSRF-Token).',
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large', 'The request body is larger than the server accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(
        'invalid_request',
        'The request body must be JSON (Content-Type: application/json).',
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid_request', 'The request body is not valid JSON.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('invalid_request', 'The Content-Length header does not match the body.');
    case 'FST_ERR_BAD_URL':
      return new ApiError('invalid_request', 'The request URL is malformed.');
  }
  const status = error.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError('invalid_request', 'The request is malformed.');
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

/** What a failure is, for the JSON and the HTML handlers alike. */
export interface ClassifiedError {
  readonly error: ApiError;
  /** Not a client's mistake nor a known condition: logged with its stack, answered 500. */
  readonly unexpected: boolean;
}

/**
 * The one classifier: our ApiErrors as thrown, the database being unreachable as 503,
 * Fastify's client errors by code, anything else a 500 internal_error.
 */
export function classifyError(error: unknown): ClassifiedError {
  if (error instanceof ApiError) return { error, unexpected: false };
  // The database is down or busy: clients retry (the CLI says the backend is unreachable).
  if (error instanceof StoreError && error.kind === 'unavailable') {
    return {
      error: new ApiError(
        'service_unavailable',
        'The server cannot reach its database; retry shortly.',
        {},
        { 'retry-after': '1' },
      ),
      unexpected: false,
    };
  }
  const known =
    typeof error === 'object' && error !== null ? frameworkError(error as FastifyError) : undefined;
  if (known !== undefined) return { error: known, unexpected: false };
  return { error: new ApiError('internal_error', 'Internal server error.'), unexpected: true };
}

/** The log line of an unexpected error: where it happened and its stack. */
export function unexpectedErrorLine(error: unknown, request: FastifyRequest): string {
  const detail = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  return `sekuire-server: unexpected error in ${request.method} ${request.routeOptions.url ?? '(no route)'}: ${detail}`;
}

/** Error handler, 404 handler and no-store on every response; details of a 500 go to the log only. */
export function installErrorReplies(app: FastifyInstance, log: ErrorLog): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', NO_STORE);
    return payload;
  });

  app.setNotFoundHandler((_request, reply) => send(reply, new ApiError('not_found', 'No such endpoint.')));

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const classified = classifyError(error);
    if (classified.unexpected) log(unexpectedErrorLine(error, request), request);
    return send(reply, classified.error);
  });
}

/** For Fastify's `frameworkErrors`: a URL it cannot decode, before any route or hook runs. */
export function frameworkErrorReply(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  send(reply, frameworkError(error) ?? new ApiError('invalid_request', 'The request is malformed.'));
}

/**
 * For Node's `clientError`: a request the HTTP parser rejected or that took too long. There
 * is no Fastify reply yet, so the response is written to the socket, which is then closed.
 */
export function clientErrorReply(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, body] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', new ApiError('request_timeout', 'The request took too long to arrive.')]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            new ApiError('invalid_request', 'The request headers are too large.'),
          ]
        : [400, 'Bad Request', new ApiError('invalid_request', 'The request is not valid HTTP.')];
  const text = JSON.stringify(body.body());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nCache-Control: ${NO_STORE}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}
