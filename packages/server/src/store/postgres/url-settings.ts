// The PostgreSQL settings a --db URL may carry (pool size, statement timeout, TLS), checked once.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

export const DEFAULT_POOL_MAX = 10;
const POOL_MAX_LIMIT = 1000;

/** The query parameters read here; the driver never sees them. Others go to PostgreSQL as given. */
const OWN = ['sslmode', 'sslrootcert', 'pool_max', 'statement_timeout'] as const;
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

export type PgTls = false | 'allow' | 'prefer' | 'require' | ConnectionOptions;

export interface PgSettings {
  /** The URL without the parameters above. */
  readonly url: string;
  readonly poolMax: number;
  /** As PostgreSQL takes it (milliseconds, or with a unit); undefined: the server's own. */
  readonly statementTimeout?: string;
  readonly tls: PgTls;
}

export type PgSettingsOutcome =
  | { readonly ok: true; readonly settings: PgSettings }
  | { readonly ok: false; readonly problem: string };

function problem(text: string): PgSettingsOutcome {
  return { ok: false, problem: text };
}

/** Reads ?sslmode, ?sslrootcert, ?pool_max and ?statement_timeout; a wrong value is one line naming the fix. */
export function pgSettings(url: string): PgSettingsOutcome {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The driver parses what URL does not (several hosts); nothing of ours can be in it then.
    return { ok: true, settings: { url, poolMax: DEFAULT_POOL_MAX, tls: false } };
  }
  const query = parsed.searchParams;
  const get = (name: (typeof OWN)[number]): string | undefined => query.get(name) ?? undefined;

  let poolMax = DEFAULT_POOL_MAX;
  const poolText = get('pool_max');
  if (poolText !== undefined) {
    poolMax = /^\d{1,4}$/.test(poolText) ? Number(poolText) : Number.NaN;
    if (!(poolMax >= 1 && poolMax <= POOL_MAX_LIMIT)) {
      return problem(
        `The database URL's pool_max must be a whole number from 1 to ${POOL_MAX_LIMIT} (connections per instance), not "${poolText}".`,
      );
    }
  }

  const statementTimeout = get('statement_timeout');
  if (statementTimeout !== undefined && !/^\d{1,9}(?:ms|s|min)?$/.test(statementTimeout)) {
    return problem(
      `The database URL's statement_timeout must be milliseconds (5000) or have a unit (5s, 2min); 0 turns it off; not "${statementTimeout}".`,
    );
  }

  const modeText = get('sslmode');
  const rootCert = get('sslrootcert');
  const mode = SSL_MODES.find((candidate) => candidate === modeText);
  if (modeText !== undefined && mode === undefined) {
    return problem(`The database URL's sslmode must be one of ${SSL_MODES.join(', ')}, not "${modeText}".`);
  }
  const verifies = mode === 'verify-ca' || mode === 'verify-full';
  if (rootCert !== undefined && !verifies) {
    return problem(
      'The database URL names an sslrootcert but does not verify the server with it: add sslmode=verify-full (or verify-ca).',
    );
  }
  let ca: Buffer | undefined;
  if (rootCert !== undefined && rootCert !== 'system') {
    try {
      ca = readFileSync(rootCert);
    } catch (error) {
      return problem(
        `Cannot read the database URL's sslrootcert ${rootCert}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
      );
    }
    if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
      return problem(`The database URL's sslrootcert ${rootCert} holds no PEM certificate.`);
    }
  }
  let tls: PgTls;
  if (mode === undefined || mode === 'disable') tls = false;
  else if (!verifies) tls = mode;
  else {
    tls = {
      rejectUnauthorized: true,
      // The name the certificate must carry: the driver gives none for an IP address (SNI
      // takes no addresses), and Node would then check it against "localhost".
      host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
      ...(ca === undefined ? {} : { ca }),
      // verify-ca: the chain is checked, the host name is not (libpq's meaning).
      ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    };
  }

  for (const name of OWN) query.delete(name);
  return {
    ok: true,
    settings: {
      url: parsed.href,
      poolMax,
      ...(statementTimeout === undefined ? {} : { statementTimeout }),
      tls,
    },
  };
}
