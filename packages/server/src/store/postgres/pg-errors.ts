// PostgreSQL failures (driver and server) in the store's words.
import { StoreError } from '../errors.js';

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : '';
}

/** The driver's connection failures and the SQLSTATEs that mean "try again later". */
const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
]);

/** What to say when the first connection fails: the --db value is the user's to fix. */
export function openFailure(where: string, error: unknown): StoreError {
  const code = codeOf(error);
  const why = (() => {
    switch (code) {
      case 'ECONNREFUSED':
        return 'connection refused; is PostgreSQL running there?';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'the host name does not resolve';
      case 'CONNECT_TIMEOUT':
      case 'ETIMEDOUT':
        return 'no answer within the connect timeout';
      case '28P01':
      case '28000':
        return 'authentication failed: check the user name and password in the URL';
      case '3D000':
        return 'that database does not exist (create it with createdb)';
      case '57P03':
        return 'the server is starting up or shutting down; try again';
      case '42501':
        return 'permission denied: the user needs CREATE on the database for the first start';
      default:
        return (error as Error)?.message?.split('\n')[0] ?? String(error);
    }
  })();
  return new StoreError('open', `Cannot use the PostgreSQL database ${where}: ${why}`, { cause: error });
}

/** Failures while serving: unavailable (503 upstream), conflict, or the error unchanged. */
export function storeFailure(error: unknown): unknown {
  if (error instanceof StoreError) return error;
  const code = codeOf(error);
  if (UNAVAILABLE.has(code) || code.startsWith('08')) {
    return new StoreError('unavailable', `PostgreSQL is unavailable (${code}).`, { cause: error });
  }
  if (code === '57014') {
    // query_canceled: the URL's statement_timeout ran out; as busy as a full pool, to the client.
    return new StoreError(
      'unavailable',
      'PostgreSQL cancelled a statement that ran past statement_timeout.',
      {
        cause: error,
      },
    );
  }
  if (code === '23505') return new StoreError('conflict', (error as Error).message, { cause: error });
  return error;
}
