// What a verified request carries, in the names of the server's /api/v1/verify answer.

export interface SekuireIdentity {
  readonly key: {
    readonly id: string;
    readonly environment: 'live' | 'test';
    readonly type: 'client' | 'server';
    readonly permissions: readonly string[];
  };
  readonly user: { readonly id: string; readonly email: string };
  readonly organization: { readonly id: string; readonly name: string };
  readonly workspace: { readonly id: string; readonly name: string };
  /** The device the key is bound to; null for a key bound to none (a server key, CI). */
  readonly device: { readonly id: string; readonly name: string; readonly fingerprint: string } | null;
}

export interface VerifyOptions {
  /** The Sekuire server's origin, e.g. https://sekuire.example.com. */
  readonly server: string;
  /** A server key with the `verify` permission, of the organization whose keys this service accepts. */
  readonly key: string;
  /**
   * This service's public origin(s), e.g. https://deploy.example.com: the authority clients sign
   * for. A request addressed to another Host is refused. Without it, the request's Host is taken
   * as it comes (fine on loopback; name it behind a proxy or on the internet).
   */
  readonly origin?: string | readonly string[];
  /** Bytes of body read to check Content-Digest; larger bodies are refused with 413 (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Milliseconds to wait for the server's answer before refusing with 503 (default 5000). */
  readonly timeoutMs?: number;
}

/** A refusal, as the Sekuire protocol shapes errors: the HTTP status, then {error, message}. */
export interface Refusal {
  readonly status: number;
  readonly error: string;
  readonly message: string;
}

export type Outcome =
  | { readonly ok: true; readonly identity: SekuireIdentity }
  | { readonly ok: false; readonly refusal: Refusal };

/** A request as the middleware hands it to the verifier. */
export interface ReceivedRequest {
  readonly method: string;
  /** The Host the request was addressed to (undefined: none). */
  readonly host: string | undefined;
  /** Whether it arrived over TLS (or a trusted proxy said so). */
  readonly https: boolean;
  /** Path and query, as sent. */
  readonly target: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body's bytes as received (empty when none). */
  readonly body: Uint8Array;
}
