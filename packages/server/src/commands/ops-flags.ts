// `start`'s operations flags: --log-level (or SEKUIRE_SERVER_LOG_LEVEL), --metrics, --metrics-port.
import { LOG_LEVELS, type LogLevel } from '../http/request-log.js';
import { UsageError } from './errors.js';
import { parsePort } from './flags.js';

export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export interface OpsOptions {
  readonly logLevel?: string;
  readonly metrics?: boolean;
  readonly metricsPort?: string;
}

export interface OpsSettings {
  readonly logLevel: LogLevel;
  /** off, on the API's own port (/metrics), or on a port of its own. */
  readonly metrics:
    | { readonly on: 'off' }
    | { readonly on: 'main-port' }
    | { readonly on: 'port'; readonly port: number };
}

function parseLogLevel(text: string, source: string): LogLevel {
  const level = LOG_LEVELS.find((candidate) => candidate === text);
  if (level === undefined)
    throw new UsageError(`${source} must be one of ${LOG_LEVELS.join(', ')}, not "${text}".`);
  return level;
}

/** Flags win over the environment; a bad value is a UsageError (exit 2). */
export function opsSettings(
  options: OpsOptions,
  env: Readonly<Record<string, string | undefined>>,
): OpsSettings {
  const logLevel =
    options.logLevel !== undefined
      ? parseLogLevel(options.logLevel, '--log-level')
      : env.SEKUIRE_SERVER_LOG_LEVEL !== undefined
        ? parseLogLevel(env.SEKUIRE_SERVER_LOG_LEVEL, 'SEKUIRE_SERVER_LOG_LEVEL')
        : DEFAULT_LOG_LEVEL;
  if (options.metrics === true && options.metricsPort !== undefined) {
    throw new UsageError('--metrics and --metrics-port exclude each other: /metrics is served on one port.');
  }
  if (options.metricsPort !== undefined) {
    return { logLevel, metrics: { on: 'port', port: parsePort(options.metricsPort, '--metrics-port') } };
  }
  return { logLevel, metrics: options.metrics === true ? { on: 'main-port' } : { on: 'off' } };
}
