// Assembles the Fastify app: server and timeouts, JSON-only bodies, error replies, limiter, routes.

import fastify, { type FastifyInstance } from 'fastify';
import type { Secrets } from '../domain/digest.js';
import type { GitHubKeyList } from '../domain/github-keys.js';
import { DEFAULT_PASSWORD_SLOTS, type PasswordSlots, passwordSlots } from '../domain/password-slots.js';
import type { ScryptCost } from '../domain/passwords.js';
import { ProofVerifier } from '../domain/proofs.js';
import type { Store } from '../store/store.js';
import { cliApi } from './cli-api.js';
import { cliGrantsApi } from './cli-grants-api.js';
import { DEFAULT_DEVICE_CODE_LIMIT, type DeviceCodeLimit } from './device-code-limit.js';
import {
  clientErrorReply,
  type ErrorLog,
  frameworkErrorReply,
  installErrorReplies,
} from './error-replies.js';
import { firstValues } from './fields.js';
import { createNodeServer, DEFAULT_TIMEOUTS, type TlsMaterial } from './http-server.js';
import { DEFAULT_PUBLIC_REVOKE_LIMIT, leaksApi, type PublicRevokeLimit } from './leaks-api.js';
import type { Metrics } from './metrics.js';
import { installOperations } from './operations.js';
import { keepRawBodies, proofChecker, rememberRawBody } from './proof-check.js';
import { DEFAULT_FAILURE_LIMIT, type FailureLimit, registerFailureLimiter } from './rate-limit.js';
import { loggerOptions, type RequestLogOptions } from './request-log.js';
import { collectRoutes } from './route-list.js';
import { DEFAULT_SIGN_IN_LIMIT, type SignInLimit } from './session-auth.js';
import type { TrustProxy } from './trust-proxy.js';
import { webSurfaces } from './web.js';

export const DEFAULT_BODY_LIMIT = 64 * 1024;

export interface AppOptions {
  readonly store: Store;
  /** Keys the HMAC digests of API keys, sessions' tokens and one-time codes (the newest secret). */
  readonly secret: Buffer;
  /** Older secrets, newer first: what they digested still works, and is digested anew on use. */
  readonly olderSecrets?: readonly Buffer[];
  /** Failed key checks per client address and window before 429. */
  readonly failureLimit?: FailureLimit;
  readonly now?: () => Date;
  readonly bodyLimit?: number;
  /** Milliseconds to receive a whole request (headers and body). */
  readonly requestTimeout?: number;
  readonly keepAliveTimeout?: number;
  /** Milliseconds of socket inactivity before it is closed. */
  readonly connectionTimeout?: number;
  /** Serve HTTPS with this PEM certificate and key. */
  readonly https?: TlsMaterial;
  /** One JSON line per answered request (request-log.ts); off by default. */
  readonly log?: RequestLogOptions;
  /** Where unexpected errors are reported: the request log when given (silent drops them), else stderr. Clients only see internal_error. */
  readonly logError?: ErrorLog;
  /** Count requests and outcomes here (metrics.ts). */
  readonly metrics?: Metrics;
  /** Serve the metrics at /metrics on this app's port. */
  readonly serveMetrics?: boolean;
  /** True once the server is stopping: /api/v1/ready answers 503 from then on. */
  readonly stopping?: () => boolean;
  /** Password hashing cost for new passwords and decoys (tests lower it). */
  readonly passwordCost?: ScryptCost;
  readonly signInLimit?: SignInLimit;
  /** Password hashes at once, across this app's sign-ins (tests hold them to fill them). */
  readonly passwordSlots?: PasswordSlots;
  /** Device codes per client address and overall before 429. */
  readonly deviceCodeLimit?: DeviceCodeLimit;
  /**
   * `start --allow-self-rebind`: `login --rebind` moves a binding at once, by the key alone, as
   * before device proof (test setups; README, "Security", says why it is weaker).
   */
  readonly allowSelfRebind?: boolean;
  /** Proofs remembered per instance against replays (tests lower it to see the bound work). */
  readonly replayCapacity?: number;
  /**
   * `start --trust-proxy`: the proxies whose X-Forwarded-For/-Proto/-Host are believed
   * (trust-proxy.ts). Without it those headers are ignored.
   */
  readonly trustProxy?: TrustProxy;
  /**
   * `start --secret-scanning-keys`: GitHub's signing keys, which POST /api/v1/secret-scanning/github
   * checks reports against. Without it that endpoint answers 404.
   */
  readonly githubKeys?: GitHubKeyList;
  /** Requests to POST /api/v1/credentials/revoke per address and overall before 429. */
  readonly publicRevokeLimit?: PublicRevokeLimit;
}

const stderrLog: ErrorLog = (message) => {
  process.stderr.write(`${message}\n`);
};

/** Throws (from Node's TLS layer) when the https material is unusable. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const timeouts = {
    requestTimeout: options.requestTimeout ?? DEFAULT_TIMEOUTS.requestTimeout,
    keepAliveTimeout: options.keepAliveTimeout ?? DEFAULT_TIMEOUTS.keepAliveTimeout,
    connectionTimeout: options.connectionTimeout ?? DEFAULT_TIMEOUTS.connectionTimeout,
  };
  const app = fastify({
    serverFactory: (handler) => createNodeServer(handler, timeouts, options.https),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    ...loggerOptions(options.log),
    // Timeouts live in createNodeServer: Fastify ignores its own when given a server factory.
    // On close, idle keep-alive connections go at once; requests already sent are still
    // answered normally (Fastify's 503 body would not be the contract's error shape).
    forceCloseConnections: 'idle',
    return503OnClosing: false,
    clientErrorHandler: clientErrorReply,
    frameworkErrors: frameworkErrorReply,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { querystringParser: firstValues },
    // request.ip, .protocol and .host follow it: every address, cookie flag and URL reads those.
    ...(options.trustProxy !== undefined && {
      trustProxy: typeof options.trustProxy === 'number' ? options.trustProxy : [...options.trustProxy],
    }),
  });

  // With a request log (even a silent one), an unexpected error goes to it, with the request's reqId.
  const logError: ErrorLog =
    options.logError ??
    (options.log !== undefined
      ? (message, request) => app.log.error(request === undefined ? {} : { reqId: request.id }, message)
      : stderrLog);
  collectRoutes(app);
  installErrorReplies(app, logError);
  const observe = installOperations(app, options);

  // Only JSON: other types get 400. An empty JSON body is allowed (logout needs none); the
  // routes that need one reject its absence with a message naming the field. The text is kept:
  // a device proof covers the body as it was sent.
  app.removeAllContentTypeParsers();
  keepRawBodies(app);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    rememberRawBody(request, text);
    if (text === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });

  const countFailure = await registerFailureLimiter(app, options.failureLimit ?? DEFAULT_FAILURE_LIMIT);
  const now = options.now ?? (() => new Date());
  // The replay cache is in the database (the proof_nonces table) on both engines: a recorded
  // request replayed against another instance, another process on the SQLite file, or this one
  // after a restart is refused too. The memory cache in front answers the common case.
  const proofs = new ProofVerifier({
    now,
    shared: options.store.read.nonces,
    groupPerTurn: options.store.engine === 'sqlite',
    ...(options.replayCapacity !== undefined && { capacity: options.replayCapacity }),
  });
  const secrets: Secrets = [options.secret, ...(options.olderSecrets ?? [])];
  const cliDeps = {
    store: options.store,
    secret: options.secret,
    secrets,
    now,
    countFailure,
    checkProof: proofChecker({ store: options.store, proofs, countFailure, now, observe }),
    observe,
    allowSelfRebind: options.allowSelfRebind === true,
  };
  await app.register(cliApi, cliDeps);
  await app.register(cliGrantsApi, {
    ...cliDeps,
    deviceCodeLimit: options.deviceCodeLimit ?? DEFAULT_DEVICE_CODE_LIMIT,
  });
  await app.register(leaksApi, {
    store: options.store,
    secrets,
    now,
    observe,
    countFailure,
    publicRevokeLimit: options.publicRevokeLimit ?? DEFAULT_PUBLIC_REVOKE_LIMIT,
    ...(options.githubKeys !== undefined && { githubKeys: options.githubKeys }),
  });
  await app.register(webSurfaces, {
    store: options.store,
    secret: options.secret,
    secrets,
    now,
    logError,
    observe,
    signInLimit: options.signInLimit ?? DEFAULT_SIGN_IN_LIMIT,
    passwordSlots: options.passwordSlots ?? passwordSlots(DEFAULT_PASSWORD_SLOTS),
    ...(options.passwordCost !== undefined && { passwordCost: options.passwordCost }),
  });
  return app;
}
