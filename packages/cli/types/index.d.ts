// The types of the `sekuire` package's library (dist/index.mjs, dist/index.cjs); test/core/library.test.ts holds them to src/library.ts.

export interface SekuireClientOptions {
  /** A key to use instead of the stored login (as SEKUIRE_API_KEY would be). */
  readonly key?: string;
  /** The Sekuire home holding auth.json and device-key.json (default: SEKUIRE_HOME, else ~/.sekuire). */
  readonly home?: string;
  /**
   * The profile whose login, backend and device key are used (default, as for the CLI:
   * SEKUIRE_PROFILE in `env`, else the home's active profile, else `default`).
   */
  readonly profile?: string;
  /** Another backend for paths (the stored key is then sent there, as with --backend). */
  readonly backend?: string;
  /** Origins besides the backend that the key may go to, added to the `audiences` setting. */
  readonly audiences?: readonly string[];
  /** The environment to read settings from (default: process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface SekuireClient {
  /**
   * A request with the key and, for a key bound to this device, a device proof over the bytes
   * sent. `input`: a path on the key's backend, or a URL of the backend's origin or an audience;
   * any other origin is refused before anything is sent.
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
}

/** Reads the stored login (or the given key) on the first fetch; never prints anything. */
export declare function createClient(options?: SekuireClientOptions): SekuireClient;

/** What the CLI would exit with: `code` is stable (e.g. `not_logged_in`), `exitCode` its exit code. */
export declare class SekuireError extends Error {
  readonly code: string;
  readonly exit: string;
  readonly exitCode: number;
  readonly details: Readonly<Record<string, unknown>>;
  readonly hint: string | undefined;
  constructor(
    code: string,
    message: string,
    exit: string,
    options?: { details?: Record<string, unknown>; hint?: string },
  );
}
