// Device proof at the edge: the body as received, the proof headers, and the 401s of PROTOCOL.md.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ExpectedKey, ProofVerifier } from '../domain/proofs.js';
import type { Store } from '../store/store.js';
import { ApiError, rateLimited } from './api-error.js';
import type { Observer } from './observer.js';
import type { FailureCounter } from './rate-limit.js';
import { DEVICE_HEADER } from './validation.js';

const RAW_BODY = 'sekuireRawBody';

/** Declares where the JSON parser leaves each body as received: a proof covers those bytes. */
export function keepRawBodies(app: FastifyInstance): void {
  app.decorateRequest(RAW_BODY, '');
}

export function rememberRawBody(request: FastifyRequest, text: string): void {
  request.setDecorator(RAW_BODY, text);
}

/** The body as received (the empty string when there was none): what a signature covers. */
export function rawBody(request: FastifyRequest): string {
  return request.getDecorator<string>(RAW_BODY);
}

export interface ProofDeps {
  readonly store: Store;
  readonly proofs: ProofVerifier;
  readonly countFailure: FailureCounter;
  readonly now: () => Date;
  readonly observe?: Observer;
}

/** At most one audit event per key and refusal a minute: a flood must not become a flood of writes. */
const AUDIT_EVERY_MS = 60_000;
const MAX_AUDITED = 10_000;

/** Checks a request's proof against the device key it must come from; throws the refusal. */
/** `keyId`: the key the request carries, for the audit trail (null for the grant requests that have none). */
export type ProofCheck = (
  request: FastifyRequest,
  expected: ExpectedKey,
  keyId: string | null,
) => Promise<void>;

async function auditRefusal(
  request: FastifyRequest,
  deps: ProofDeps,
  lastAudited: Map<string, number>,
  keyId: string,
  code: string,
): Promise<void> {
  const now = deps.now();
  const id = `${keyId} ${code}`;
  const last = lastAudited.get(id);
  if (last !== undefined && now.getTime() - last < AUDIT_EVERY_MS) return;
  if (lastAudited.size >= MAX_AUDITED) lastAudited.clear();
  lastAudited.set(id, now.getTime());
  const fingerprint = request.headers[DEVICE_HEADER];
  await deps.store.read.audit
    .record({
      at: now.toISOString(),
      event: 'proof_refused',
      key_id: keyId,
      fingerprint: typeof fingerprint === 'string' ? fingerprint.slice(0, 64) : null,
      client_ip: request.ip,
      detail: { code, method: request.method, path: request.url.split('?')[0]?.slice(0, 200) ?? '' },
    })
    // The refusal stands whether or not it could be written down.
    .catch(() => undefined);
}

/**
 * Throws the 401 unless the request carries a valid, fresh, first-seen proof from `expected`.
 * A refused proof counts as a failed check for the address (a key without its device is a key
 * being tried), and the key's owner finds it in the audit trail.
 */
export function proofChecker(deps: ProofDeps): ProofCheck {
  const lastAudited = new Map<string, number>();
  return (request, expected, keyId) => requireProof(request, deps, lastAudited, expected, keyId);
}

async function requireProof(
  request: FastifyRequest,
  deps: ProofDeps,
  lastAudited: Map<string, number>,
  expected: ExpectedKey,
  keyId: string | null,
): Promise<void> {
  const header = (name: string) => {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const verdict = await deps.proofs.verify(
    {
      method: request.method,
      target: request.raw.url ?? request.url,
      body: request.getDecorator<string>(RAW_BODY),
      signatureInput: header('signature-input'),
      signature: header('signature'),
      contentDigest: header('content-digest'),
    },
    expected,
  );
  if (verdict.ok) return;
  deps.observe?.proofRefused(verdict.code);
  if (keyId !== null) await auditRefusal(request, deps, lastAudited, keyId, verdict.code);
  const limited = await deps.countFailure(request);
  if (limited.limited) {
    throw rateLimited('failed checks from this address', limited.retryAfterSeconds);
  }
  // The server's time lets a client whose clock is off correct it once (PROTOCOL.md).
  const extra = verdict.code === 'proof_stale' ? { server_time: deps.now().toISOString() } : {};
  throw new ApiError(verdict.code, verdict.message, extra);
}
