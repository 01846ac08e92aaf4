// The `(req, res, next)` middleware for Express, Connect and plain node:http, and requirePermission for both kinds.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Refusal, SekuireIdentity, VerifyOptions } from './types.js';
import { createVerifier, DEFAULT_MAX_BODY_BYTES, permissionRefusal } from './verifier.js';

declare module 'node:http' {
  interface IncomingMessage {
    /** The verified key, its owner, organization and device (set by sekuire-verify). */
    sekuire?: SekuireIdentity;
    /** The body's bytes as received, read by sekuire-verify to check Content-Digest. */
    rawBody?: Buffer;
  }
}

export type Next = (error?: unknown) => void;

function send(res: ServerResponse, refusal: Refusal): void {
  const body = JSON.stringify({ error: refusal.error, message: refusal.message });
  res.statusCode = refusal.status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(body);
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  if (req.rawBody !== undefined) return Promise.resolve(req.rawBody);
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
    return Promise.resolve(Buffer.alloc(0));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * `app.use(verifyMiddleware({server, key}))` (Express), or called first in a node:http handler.
 * Mount it before any body parser: it reads the body to check Content-Digest, leaves the bytes
 * in `req.rawBody`, and a JSON body parsed in `req.body` (marked parsed, so express.json skips it).
 */
export function verifyMiddleware(
  options: VerifyOptions,
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const verifier = createVerifier(options);
  const max = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return (req, res, next) => {
    const run = async () => {
      const body = await readBody(req, max);
      if (body === undefined) {
        send(res, {
          status: 413,
          error: 'payload_too_large',
          message: `The request body is larger than ${max} bytes.`,
        });
        return;
      }
      req.rawBody = body;
      const holder = req as IncomingMessage & { body?: unknown; _body?: boolean };
      if (body.length > 0 && /^application\/(.+\+)?json\b/i.test(req.headers['content-type'] ?? '')) {
        try {
          holder.body = JSON.parse(body.toString('utf8'));
        } catch {
          send(res, {
            status: 400,
            error: 'invalid_request',
            message: 'The request body is not valid JSON.',
          });
          return;
        }
        holder._body = true;
      }
      const outcome = await verifier.verify({
        method: req.method ?? 'GET',
        host: req.headers.host,
        https: (req.socket as TLSSocket).encrypted === true,
        target: req.url ?? '/',
        headers: req.headers,
        body,
      });
      if (!outcome.ok) {
        send(res, outcome.refusal);
        return;
      }
      req.sekuire = outcome.identity;
      next();
    };
    run().catch(next);
  };
}

interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  header(name: string, value: string): FastifyLikeReply;
  send(body: unknown): unknown;
}

function isFastifyReply(value: unknown): value is FastifyLikeReply {
  const reply = value as Partial<FastifyLikeReply>;
  return typeof reply.code === 'function' && typeof reply.send === 'function';
}

/**
 * A guard for one route: 403 `forbidden` unless the verified key holds every permission named.
 * The same function serves as a Fastify preHandler (`{preHandler: requirePermission('deploy:write')}`)
 * and as Express or node:http middleware (`app.post('/deploy', requirePermission('deploy:write'), …)`).
 */
export function requirePermission(
  ...permissions: readonly string[]
): (req: { sekuire?: SekuireIdentity | null }, res: unknown, next: () => void) => void {
  return (req, res, next) => {
    const refusal = permissionRefusal(req.sekuire, permissions);
    if (refusal === undefined) {
      next();
      return;
    }
    if (isFastifyReply(res)) {
      res
        .code(refusal.status)
        .header('cache-control', 'no-store')
        .send({ error: refusal.error, message: refusal.message });
      return;
    }
    send(res as ServerResponse, refusal);
  };
}
