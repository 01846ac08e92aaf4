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

/**
 * When the request whose line pino is writing completed (ms since the epoch); undefined outside
 * the loop that writes them (writeLines). Set and cleared synchronously around each pino call,
 * so it never speaks for another line, or another app in the same process.
 */
let completedAt: number | undefined;

/**
 * pino's timestamp: ISO 8601, made once per millisecond (many lines share one under load). A
 * request's line carries the time the request completed, not the time the line was written.
 */
function isoTime(): () => string {
  let at = 0;
  let text = '';
  return () => {
    const now = completedAt ?? Date.now();
    if (now !== at) {
      at = now;
      text = `,"time":"${new Date(now).toISOString()}"`;
    }
    return text;
  };
}

/**
 * Completed requests wait as plain values and become lines together, at most this long after
 * the first of them (then the stream writes them at once: log-stream.ts). Measured on 2 vCPUs
 * (2026-12-07, Node 20.20.2, a cached status at 32 connections, 4 alternating rounds): a line
 * made by pino inside each request's onResponse hook cost the request +18 µs of server CPU
 * (36.2 -> 54.2 µs); the same lines made in one loop every 10 ms, +9 µs (45.4 µs). pino's code
 * and the strings it builds stay hot through a loop of a few hundred lines, instead of being
 * taken up again between everything else a request does.
 */
const LINE_DELAY_MS = 10;

/** The values of one line, in this order, one after another in a flat array. */
const FIELDS = 9;

/** Each app's way to write its waiting lines now (a test reads the log; onClose does too). */
const writers = new WeakMap<FastifyInstance, () => void>();

/** Writes the request lines still waiting, at once: what a test calls before reading the log. */
export function flushRequestLog(app: FastifyInstance): void {
  writers.get(app)?.();
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
  const enabled = (level: LogLevel) => LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(log.level);
  const infoOn = enabled('info');
  const warnOn = enabled('warn');
  let waiting: unknown[] = [];
  let timer: NodeJS.Timeout | undefined;
  const writeLines = () => {
    clearTimeout(timer);
    timer = undefined;
    const values = waiting;
    waiting = [];
    try {
      for (let i = 0; i < values.length; i += FIELDS) {
        completedAt = values[i + 1] as number;
        app.log[values[i] as 'info' | 'warn'](
          {
            reqId: values[i + 2],
            method: values[i + 3],
            route: values[i + 4],
            status: values[i + 5],
            duration_ms: values[i + 6],
            client_ip: values[i + 7],
            ...(values[i + 8] as Subject | null),
          },
          'request',
        );
      }
    } finally {
      completedAt = undefined;
    }
    // One write for the lot, now, rather than after the stream's own wait.
    (app.log as { flush?: () => void }).flush?.();
  };
  writers.set(app, writeLines);
  // The lines of the last requests may still wait (above, and in log-stream.ts): a stop loses none.
  app.addHook('onClose', (_instance, done) => {
    writeLines();
    done();
  });
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const status = reply.statusCode;
    // Nothing to keep for a line the level drops (at warn, every request below 500).
    if (status >= 500 ? warnOn : infoOn) {
      waiting.push(
        status >= 500 ? 'warn' : 'info',
        Date.now(),
        request.id,
        request.method,
        // The template, not the URL: a path or query may carry a code or a name nobody should log.
        routeLabel(request),
        status,
        Math.round(reply.elapsedTime * 1000) / 1000,
        request.ip,
        request.getDecorator<Subject | null>(SUBJECT),
      );
      if (timer === undefined) {
        timer = setTimeout(writeLines, LINE_DELAY_MS);
        // The server's own handles keep it running; lines waiting must not on their own.
        timer.unref();
      }
    }
    done();
  });
}

export function identify(request: FastifyRequest, subject: Subject): void {
  request.setDecorator(SUBJECT, subject);
}
