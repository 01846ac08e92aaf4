// Assembles the Fastify app: server and timeouts, JSON-only bodies, error replies, limiter, routes.
import fastify, { type FastifyInstance } from 'fastify';
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
import { keepRawBodies, proofChecker, rememberRawBody } from './proof-check.js';
import { DEFAULT_FAILURE_LIMIT, type FailureLimit, registerFailureLimiter } from './rate-limit.js';
import { DEFAULT_SIGN_IN_LIMIT, type SignInLimit } from './session-auth.js';
import type { TrustProxy } from './trust-proxy.js';
import { webSurfaces } from './web.js';

export const DEFAULT_BODY_LIMIT = 64 * 1024;

export interface AppOptions {
  readonly store: Store;
  /** Keys the HMAC digests of API keys. */
  readonly secret: Buffer;
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
  /** Fastify's request log (method, URL, status; never headers); off by default. */
  readonly logger?: boolean;
  /** Where unexpected errors are reported; stderr by default. Clients only see internal_error. */
  readonly logError?: ErrorLog;
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
    logger: options.logger === true ? { level: 'info' } : false,
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

  installErrorReplies(app, options.logError ?? stderrLog);

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
  const logError = options.logError ?? stderrLog;
  // With PostgreSQL, every instance shares one replay cache (the proof_nonces table): a recorded
  // request replayed against another instance is refused too. SQLite serves one machine, and
  // its cache stays in memory (domain/proofs.ts).
  const proofs = new ProofVerifier({
    now,
    ...(options.store.engine === 'postgres' && { shared: options.store.read.nonces }),
    ...(options.replayCapacity !== undefined && { capacity: options.replayCapacity }),
  });
  const cliDeps = {
    store: options.store,
    secret: options.secret,
    now,
    countFailure,
    checkProof: proofChecker({ store: options.store, proofs, countFailure, now }),
    allowSelfRebind: options.allowSelfRebind === true,
  };
  await app.register(cliApi, cliDeps);
  await app.register(cliGrantsApi, {
    ...cliDeps,
    deviceCodeLimit: options.deviceCodeLimit ?? DEFAULT_DEVICE_CODE_LIMIT,
  });
  await app.register(webSurfaces, {
    store: options.store,
    secret: options.secret,
    now,
    logError,
    signInLimit: options.signInLimit ?? DEFAULT_SIGN_IN_LIMIT,
    passwordSlots: options.passwordSlots ?? passwordSlots(DEFAULT_PASSWORD_SLOTS),
    ...(options.passwordCost !== undefined && { passwordCost: options.passwordCost }),
  });
  return app;
}
