// The Fastify plugin: every route registered after it in its scope answers only verified requests.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SekuireIdentity, VerifyOptions } from './types.js';
import { createVerifier, DEFAULT_MAX_BODY_BYTES } from './verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified key, its owner, organization and device (null before sekuire-verify runs). */
    sekuire: SekuireIdentity | null;
  }
}

const EMPTY = new Uint8Array(0);

type RequestPayload = FastifyRequest['raw'] | NodeJS.ReadableStream;

// biome-ignore lint/suspicious/noExplicitAny: a route's hooks are one function or a list of them, of any kind.
function asList(hooks: any): any[] {
  if (hooks === undefined || hooks === null) return [];
  return Array.isArray(hooks) ? hooks : [hooks];
}

/** Reads the body, at most `max` bytes; the bytes and a stream that gives them to Fastify's parser. */
async function readBody(payload: NodeJS.ReadableStream, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > max) {
      throw Object.assign(new Error(`The request body is larger than ${max} bytes.`), {
        statusCode: 413,
        code: 'payload_too_large',
      });
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function hasBody(request: FastifyRequest): boolean {
  return (
    request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined
  );
}

/**
 * `fastify.register(sekuireVerify, {server, key})`: reads each body (to check it against
 * Content-Digest), asks the Sekuire server, and either sets `request.sekuire` or answers 401/403
 * (503 when the server cannot be asked) with `{error, message}`. Nothing is cached: a revoked
 * key is refused from the next request on.
 */
export function sekuireVerify(
  app: FastifyInstance,
  options: VerifyOptions,
  done: (error?: Error) => void,
): void {
  const verifier = createVerifier(options);
  const max = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const bodies = new WeakMap<FastifyRequest, Uint8Array>();
  app.decorateRequest('sekuire', null);
  const keepBody = async (request: FastifyRequest, _reply: FastifyReply, payload: RequestPayload) => {
    if (!hasBody(request)) return payload;
    const body = await readBody(payload, max);
    bodies.set(request, body);
    // The parser gets the same bytes; it compares their count with Content-Length.
    return Object.assign(Readable.from([body]), { receivedEncodedLength: body.length });
  };
  const verify = async (request: FastifyRequest, reply: FastifyReply) => {
    const outcome = await verifier.verify({
      method: request.method,
      host: request.headers.host,
      https: request.protocol === 'https',
      target: request.raw.url ?? request.url,
      headers: request.headers,
      body: bodies.get(request) ?? EMPTY,
    });
    if (outcome.ok) {
      request.sekuire = outcome.identity;
      return;
    }
    const { status, error, message } = outcome.refusal;
    return reply.code(status).header('cache-control', 'no-store').send({ error, message });
  };
  // Per route rather than on the scope: the routes registered after the plugin (in its scope and
  // the scopes it contains) are protected, the ones registered before are not; the check runs
  // before the route's own preValidation and preHandler (requirePermission).
  app.addHook('onRoute', (route) => {
    route.preParsing = [keepBody, ...asList(route.preParsing)];
    route.preValidation = [verify, ...asList(route.preValidation)];
  });
  done();
}

// What fastify-plugin sets: the hooks and the decorator apply in the scope that registers the
// plugin (to the routes registered after it there), not in a scope of its own.
Object.assign(sekuireVerify, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'sekuire-verify',
});
