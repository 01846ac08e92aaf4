// Keys that leak (PROTOCOL.md "Keys that leak"): GitHub's secret-scanning reports and the public revocation endpoint.
import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Secrets } from '../domain/digest.js';
import type { GitHubKeyList } from '../domain/github-keys.js';
import { type LeakReport, revokeLeakedKeys, tokenHash } from '../domain/leaks.js';
import { signInCounter } from '../domain/sign-in-limits.js';
import type { Store } from '../store/store.js';
import { ApiError, rateLimited } from './api-error.js';
import type { Observer } from './observer.js';
import { rawBody } from './proof-check.js';
import type { FailureCounter } from './rate-limit.js';
import { invalid, isObject } from './validation.js';

/** Requests to the public revocation endpoint per address (IPv6: per /64) and from all together. */
export interface PublicRevokeLimit {
  readonly perAddress: number;
  readonly overall: number;
  readonly windowMs: number;
}

export const DEFAULT_PUBLIC_REVOKE_LIMIT: PublicRevokeLimit = {
  perAddress: 60,
  overall: 1_000,
  windowMs: 60 * 60_000,
};

/** Credentials per public request at most (GitHub's revocation API takes as many). */
export const MAX_CREDENTIALS = 1_000;
/** GitHub may send many matches at once: its reports may be larger than other bodies. */
const REPORT_BODY_LIMIT = 1024 * 1024;
const MAX_TOKEN = 1_000;

export interface LeaksDeps {
  readonly store: Store;
  readonly secrets: Secrets;
  readonly now: () => Date;
  /** Without it, the secret-scanning endpoint answers 404: nobody signs reports for this server. */
  readonly githubKeys?: GitHubKeyList;
  readonly publicRevokeLimit: PublicRevokeLimit;
  /** A refused signature counts as a failed check for the address, as an unknown key does. */
  readonly countFailure: FailureCounter;
  readonly observe?: Observer;
}

function optionalString(record: Record<string, unknown>, name: string, field: string): string | undefined {
  const value = record[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(field, `${field} must be a string.`);
  return value;
}

/** GitHub's body: an array of {token, type, url, source}. */
function parseReports(body: unknown): LeakReport[] {
  if (!Array.isArray(body))
    throw invalid('body', 'The body must be a JSON array of {token, type, url, source}.');
  return body.map((entry, index) => {
    const field = `[${index}]`;
    if (!isObject(entry)) throw invalid(field, `${field} must be an object.`);
    const token = entry.token;
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN)
      throw invalid(`${field}.token`, `${field}.token must be a string of 1 to ${MAX_TOKEN} characters.`);
    const type = optionalString(entry, 'type', `${field}.type`);
    const url = optionalString(entry, 'url', `${field}.url`);
    const source = optionalString(entry, 'source', `${field}.source`);
    return {
      token,
      ...(type !== undefined && { type }),
      ...(url !== undefined && { url }),
      ...(source !== undefined && { source }),
    };
  });
}

function parseCredentials(body: unknown): string[] {
  const credentials = isObject(body) ? body.credentials : undefined;
  if (
    !Array.isArray(credentials) ||
    credentials.length === 0 ||
    credentials.length > MAX_CREDENTIALS ||
    credentials.some((value) => typeof value !== 'string' || value.length > MAX_TOKEN)
  ) {
    throw invalid(
      'credentials',
      `credentials must be an array of 1 to ${MAX_CREDENTIALS} keys (strings of at most ${MAX_TOKEN} characters).`,
    );
  }
  return credentials as string[];
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export const leaksApi: FastifyPluginAsync<LeaksDeps> = async (app, deps) => {
  const counter = signInCounter(deps.store, deps.publicRevokeLimit.windowMs);
  const onConfirmed = (seconds: number) => deps.observe?.revocationConfirmed(seconds);

  app.post('/api/v1/secret-scanning/github', { bodyLimit: REPORT_BODY_LIMIT }, async (request) => {
    const keys = deps.githubKeys;
    if (keys === undefined) {
      throw new ApiError(
        'not_found',
        'Secret scanning is not set up on this server (sekuire-server start --secret-scanning-keys).',
      );
    }
    /** A forged report is a guess like an unknown key: counted, and 429 past the limit. */
    const refuse = async (message: string): Promise<never> => {
      const verdict = await deps.countFailure(request);
      if (verdict.limited) {
        throw rateLimited(
          `failed checks from ${verdict.scope === 'address' ? 'this address' : 'all addresses together'}`,
          verdict.retryAfterSeconds,
        );
      }
      throw new ApiError('invalid_signature', message);
    };
    const identifier = header(request, 'github-public-key-identifier');
    const signature = header(request, 'github-public-key-signature');
    if (identifier === undefined || signature === undefined) {
      return refuse('The report must carry Github-Public-Key-Identifier and Github-Public-Key-Signature.');
    }
    // The signature covers the body as it was sent, checked before anything in it is believed.
    const verdict = await keys.verify(rawBody(request), identifier, signature);
    if (verdict === 'no_key_list') {
      throw new ApiError(
        'service_unavailable',
        "GitHub's secret-scanning keys could not be loaded; try again later.",
        {},
        { 'retry-after': '60' },
      );
    }
    if (verdict !== 'valid') {
      return refuse(
        verdict === 'unknown_key'
          ? 'Github-Public-Key-Identifier names no key of the secret-scanning key list.'
          : 'Github-Public-Key-Signature does not verify over the body.',
      );
    }
    const reports = parseReports(request.body);
    const findings = await revokeLeakedKeys(deps.store, deps.secrets, reports, {
      reason: 'leaked',
      via: 'github_secret_scanning',
      clientIp: request.ip,
      now: deps.now(),
      onConfirmed,
    });
    // GitHub's feedback format: the token's SHA-256, never the token.
    return reports.map((report, index) => ({
      token_hash: tokenHash(report.token),
      token_type: report.type ?? '',
      label: findings[index]?.issued === true ? 'true_positive' : 'false_positive',
    }));
  });

  app.post('/api/v1/credentials/revoke', async (request, reply) => {
    const now = deps.now();
    const limit = deps.publicRevokeLimit;
    const wait = await counter.attempt(
      [
        { key: `public revoke address ${normalizeIP(request.ip, 64)}`, max: limit.perAddress },
        { key: 'public revoke all', max: limit.overall },
      ],
      now,
    );
    if (wait !== undefined) {
      throw rateLimited('revocation requests', wait);
    }
    const credentials = parseCredentials(request.body);
    await revokeLeakedKeys(
      deps.store,
      deps.secrets,
      credentials.map((token) => ({ token })),
      { reason: 'reported', via: 'public_revocation', clientIp: request.ip, now, onConfirmed },
    );
    // The same answer whatever was sent: nothing here says whether any key existed.
    return reply.code(202).send({ accepted: credentials.length });
  });
};
