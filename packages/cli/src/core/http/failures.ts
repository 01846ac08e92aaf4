// Why an attempt produced no answer: socket and TLS errors named, whether the request was sent, which limit ran out.

export type NetworkErrorKind =
  | 'dns'
  | 'refused'
  | 'connect_timeout'
  | 'timeout'
  | 'reset'
  | 'tls'
  | 'not_tls'
  | 'proxy'
  | 'redirect'
  | 'too_large'
  | 'deadline'
  | 'other';

/** Which of the policy's limits ran out, and how long it was. */
export interface Limit {
  readonly name: 'connect' | 'attempt' | 'deadline';
  readonly ms: number;
}

/** No answer to use. The message and detail never contain header values. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
  constructor(
    readonly kind: NetworkErrorKind,
    message: string,
    readonly attempts: number,
    readonly detail?: string,
    readonly limit?: Limit,
  ) {
    super(message);
  }
}

/** An attempt that did not produce an answer; `sent` says whether the server may have seen the request. */
export class Failure {
  constructor(
    readonly kind: NetworkErrorKind,
    readonly message: string,
    readonly sent: boolean,
    readonly transient: boolean,
    readonly detail?: string,
    readonly limit?: Limit,
  ) {}
}

export interface Endpoint {
  /** Without IPv6 brackets: what net.connect and tls take. */
  readonly host: string;
  readonly port: number;
  /** host:port as written in a URL and in CONNECT. */
  readonly authority: string;
}

export function endpointOf(url: URL): Endpoint {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, authority: `${url.hostname}:${port}` };
}

/** Where an attempt is: decides which error kind a socket error becomes, and whether it was sent. */
export type Stage = 'proxy' | 'tunnel' | 'connect' | 'tls' | 'request';

interface Cause {
  readonly kind: NetworkErrorKind;
  readonly text: string;
  readonly transient: boolean;
}

const CAUSES: Readonly<Record<string, Cause>> = {
  ENOTFOUND: { kind: 'dns', text: 'host name not found', transient: false },
  EAI_NONAME: { kind: 'dns', text: 'host name not found', transient: false },
  EAI_NODATA: { kind: 'dns', text: 'host name has no address', transient: false },
  EAI_FAIL: { kind: 'dns', text: 'name resolution failed', transient: false },
  EAI_AGAIN: { kind: 'dns', text: 'temporary name resolution failure', transient: true },
  ECONNREFUSED: { kind: 'refused', text: 'connection refused', transient: true },
  ECONNRESET: { kind: 'reset', text: 'connection reset', transient: true },
  ECONNABORTED: { kind: 'reset', text: 'connection aborted', transient: true },
  EPIPE: { kind: 'reset', text: 'connection closed while sending', transient: true },
  ERR_STREAM_PREMATURE_CLOSE: { kind: 'reset', text: 'connection closed early', transient: true },
  ETIMEDOUT: { kind: 'connect_timeout', text: 'connection timed out', transient: true },
  ENETUNREACH: { kind: 'other', text: 'network is unreachable', transient: true },
  ENETDOWN: { kind: 'other', text: 'network is down', transient: true },
  EHOSTUNREACH: { kind: 'other', text: 'host is unreachable', transient: true },
  EHOSTDOWN: { kind: 'other', text: 'host is down', transient: true },
  ENOTLOOPBACK: { kind: 'other', text: 'name does not resolve to a loopback address', transient: false },
};

const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|CRL_|UNABLE_TO_|ERROR_IN_C|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|INVALID_CA$|PATH_LENGTH_EXCEEDED$|INVALID_PURPOSE$|HOSTNAME_MISMATCH$)/;

/** What OpenSSL says when the other side answers a TLS hello in plain text (an http server). */
const PLAIN_TEXT_PEER = /wrong version number|packet length too long|http request|unknown protocol/i;

function causeOf(error: unknown): Cause & { code?: string } {
  const raw = (error as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' ? raw : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const known = code === undefined ? undefined : CAUSES[code];
  if (known) return { ...known, code };
  if ((code !== undefined && TLS_CODE.test(code)) || /unable to get local issuer/i.test(message)) {
    if (PLAIN_TEXT_PEER.test(message) || code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
      return { kind: 'not_tls', text: 'the server does not speak TLS', transient: false, code };
    }
    return { kind: 'tls', text: message, transient: false, code };
  }
  if (/socket hang up/i.test(message)) return { ...(CAUSES.ECONNRESET as Cause), code };
  return { kind: 'other', text: message, transient: false, code };
}

export function describeFailure(
  error: unknown,
  stage: Stage,
  target: Endpoint,
  proxy: Endpoint | undefined,
): Failure {
  const cause = causeOf(error);
  if (stage === 'proxy' || stage === 'tunnel') {
    const where = proxy ? proxy.authority : 'the proxy';
    const message =
      stage === 'proxy'
        ? `Cannot reach the proxy ${where}: ${cause.text}.`
        : `The proxy ${where} failed during CONNECT to ${target.authority}: ${cause.text}.`;
    return new Failure('proxy', message, false, cause.transient, cause.text);
  }
  const sent = stage === 'request';
  const code = cause.code ? ` (${cause.code})` : '';
  switch (cause.kind) {
    case 'dns':
      return new Failure(
        'dns',
        `Cannot resolve ${target.host}: ${cause.text}${code}.`,
        false,
        cause.transient,
        cause.code,
      );
    case 'refused':
      return new Failure('refused', `Connection to ${target.authority} refused.`, false, true, cause.code);
    case 'reset':
      return new Failure(
        'reset',
        `The connection to ${target.authority} was reset: ${cause.text}${code}.`,
        sent,
        true,
        cause.code,
      );
    case 'connect_timeout':
      // The kernel's own timeout (ETIMEDOUT), not one of ours: once connected, it gave up on
      // an established connection.
      return sent
        ? new Failure(
            'timeout',
            `The connection to ${target.authority} timed out in the network${code}.`,
            true,
            true,
            cause.code,
          )
        : new Failure(
            'connect_timeout',
            `Connecting to ${target.authority} timed out in the network${code}.`,
            false,
            true,
            cause.code,
          );
    case 'not_tls':
      return new Failure(
        'not_tls',
        `${target.authority} does not speak TLS: it answered the TLS handshake in plain text.`,
        false,
        false,
        cause.code,
      );
    case 'tls': {
      const detail = cause.code && cause.code !== cause.text ? `${cause.text}, ${cause.code}` : cause.text;
      return new Failure('tls', `TLS with ${target.authority} failed: ${detail}.`, sent, false, detail);
    }
    default:
      return new Failure('other', `${cause.text}${code}`, sent, cause.transient, cause.code);
  }
}
