// One JSON line per answered request (Fastify's pino logger): what was asked, the answer, by whom; never a secret.
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { batchedStderr } from './log-stream.js';
import { routeLabel } from './route-label.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface RequestLogOptions {
  readonly level: LogLevel;
  /** Where the lines go; standard error by default (standard output carries the listening lines), batched. */
  readonly stream?: { write(line: string): void };
}

/** Who a request acted as, once a key or a session proved it: an id, never the credential. */
export type Subject = { readonly key_id: string } | { readonly user_id: string };

const SUBJECT = 'sekuireSubject';

/** pino's timestamp: ISO 8601, made once per millisecond (many lines share one under load). */
function isoTime(): () => string {
  let at = 0;
  let text = '';
  return () => {
    const now = Date.now();
    if (now !== at) {
      at = now;
      text = `,"time":"${new Date(now).toISOString()}"`;
    }
    return text;
  };
}

/** The logger part of Fastify's options; its own two lines per request (incoming, completed) are off. */
export function loggerOptions(
  log: RequestLogOptions | undefined,
): Pick<FastifyServerOptions, 'logger' | 'disableRequestLogging' | 'childLoggerFactory'> {
  if (log === undefined || log.level === 'silent') return { logger: false };
  return {
    logger: {
      level: log.level,
      stream: log.stream ?? batchedStderr(),
      // pid and hostname are the same on every line; whatever collects the stream knows them.
      base: null,
      timestamp: isoTime(),
      formatters: { level: (label) => ({ level: label }) },
    },
    disableRequestLogging: true,
    // Fastify makes a child logger (binding reqId) for every request, used or not: a measurable
    // part of a cached status answer. The lines below name their reqId themselves instead.
    childLoggerFactory: (logger) => logger,
  };
}

/** Declares where routes note who a request acted as; with the logger on, logs each answered request. */
export function installRequestLog(app: FastifyInstance, log: RequestLogOptions | undefined): void {
  app.decorateRequest(SUBJECT, null);
  if (log === undefined || log.level === 'silent') return;
  // The lines of the last requests may still wait for the end of an event-loop turn (log-stream.ts).
  app.addHook('onClose', (instance, done) => {
    (instance.log as { flush?: () => void }).flush?.();
    done();
  });
  const enabled = (level: LogLevel) => LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(log.level);
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'warn' : 'info';
    // Nothing to build for a line the level drops (at warn, every request below 500).
    if (!enabled(level)) {
      done();
      return;
    }
    const line = {
      reqId: request.id,
      method: request.method,
      // The template, not the URL: a path or query may carry a code or a name nobody should log.
      route: routeLabel(request),
      status,
      duration_ms: Math.round(reply.elapsedTime * 1000) / 1000,
      client_ip: request.ip,
      ...request.getDecorator<Subject | null>(SUBJECT),
    };
    request.log[level](line, 'request');
    done();
  });
}

export function identify(request: FastifyRequest, subject: Subject): void {
  request.setDecorator(SUBJECT, subject);
}
