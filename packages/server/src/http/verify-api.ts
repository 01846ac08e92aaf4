// POST /api/v1/verify (PROTOCOL.md): a service asks, with a server key that has `verify`, whether a request it received is genuine.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { PERMISSION_PATTERN, VERIFY_PERMISSION } from '../domain/permissions.js';
import type { ProofVerifier } from '../domain/proofs.js';
import { type ServiceRequest, type Verification, verifyServiceRequest } from '../domain/verification.js';
import type { KeyState } from '../store/key-cache.js';
import { ApiError } from './api-error.js';
import { authenticate, type KeyAuthDeps } from './key-auth.js';
import { invalid, isObject } from './validation.js';

export interface VerifyDeps extends KeyAuthDeps {
  /** The replay cache of the server's own API: a nonce is accepted once, wherever it is shown. */
  readonly proofs: ProofVerifier;
}

const VERIFIER = 'sekuireVerifier';
const METHOD = /^[A-Z]{1,16}$/;
const MAX_URL_LENGTH = 8192;
const MAX_HEADERS = 100;
const MAX_HEADER_LENGTH = 8192;
const MAX_REQUIRED = 32;

/** The body: {"request": {"method", "url", "headers"}, "required_permissions"?}. */
export function parseVerifyBody(body: unknown): ServiceRequest {
  if (!isObject(body)) throw invalid('body', 'The request body must be a JSON object.');
  const request = body.request;
  if (!isObject(request))
    throw invalid('request', 'request must be an object: {"method", "url", "headers"}.');
  const method = request.method;
  if (typeof method !== 'string' || !METHOD.test(method.toUpperCase())) {
    throw invalid('request.method', 'request.method must be an HTTP method, e.g. "GET".');
  }
  const text = request.url;
  let url: URL | undefined;
  try {
    url = typeof text === 'string' && text.length <= MAX_URL_LENGTH ? new URL(text) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw invalid(
      'request.url',
      'request.url must be the whole http(s) URL the request was sent to, e.g. "https://api.example.com/deploy?env=prod".',
    );
  }
  const headers = request.headers;
  if (!isObject(headers) || Object.keys(headers).length > MAX_HEADERS) {
    throw invalid('request.headers', `request.headers must be an object of at most ${MAX_HEADERS} headers.`);
  }
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string' || value.length > MAX_HEADER_LENGTH) {
      throw invalid('request.headers', `request.headers.${name.slice(0, 64)} must be a string.`);
    }
    map.set(name.toLowerCase(), value);
  }
  const required = body.required_permissions ?? [];
  if (
    !Array.isArray(required) ||
    required.length > MAX_REQUIRED ||
    !required.every((entry) => typeof entry === 'string' && PERMISSION_PATTERN.test(entry))
  ) {
    throw invalid(
      'required_permissions',
      'required_permissions must be an array of permissions (a-z 0-9 _ . : -, up to 64 characters each).',
    );
  }
  return { method: method.toUpperCase(), url, headers: map, requiredPermissions: required as string[] };
}

/** The answer, in the names /cli/whoami uses. */
export function verificationJson(verification: Verification) {
  if (!verification.valid) {
    return { valid: false, code: verification.code, message: verification.message };
  }
  const { record } = verification.state;
  const device = verification.device;
  return {
    valid: true,
    key: {
      id: record.key.id,
      environment: record.key.environment,
      type: record.key.type,
      permissions: record.key.permissions,
    },
    user: { id: record.user.id, email: record.user.email },
    organization: { id: record.organization.id, name: record.organization.name },
    workspace: { id: record.workspace.id, name: record.workspace.name },
    device:
      device === undefined ? null : { id: device.id, name: device.name, fingerprint: device.fingerprint },
  };
}

export const verifyApi: FastifyPluginAsync<VerifyDeps> = async (app, deps) => {
  app.decorateRequest(VERIFIER, null);
  const onRequest = async (request: FastifyRequest) => {
    const state = await authenticate(request, deps);
    if (state.record.key.type !== 'server' || !state.record.key.permissions.includes(VERIFY_PERMISSION)) {
      throw new ApiError(
        'forbidden',
        'Only a server key with the verify permission may call /api/v1/verify: create one with sekuire-server create-key --type server --permission verify.',
      );
    }
    request.setDecorator(VERIFIER, state);
  };

  app.post('/api/v1/verify', { onRequest }, async (request) => {
    const verifier = request.getDecorator<KeyState>(VERIFIER);
    const asked = parseVerifyBody(request.body);
    const verification = await verifyServiceRequest(
      deps.store,
      deps.secrets,
      deps.proofs,
      verifier.record.organization.id,
      asked,
      deps.now(),
    );
    return verificationJson(verification);
  });
};
