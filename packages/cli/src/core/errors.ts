// Typed errors and the one exit-code table: each error has a stable code, an exit code by name, and a hint.

/**
 * Every exit code the CLI can return, by name. Errors, `--help` footers and docs/CLI.md all
 * read this table; a test checks that the docs say the same.
 */
export const EXIT_CODES = {
  ok: { code: 0, meaning: 'success' },
  bug: { code: 1, meaning: 'unexpected failure (a bug), or the output could not be written' },
  usage: { code: 2, meaning: 'usage: bad flag, setting or key, no terminal to prompt on' },
  notLoggedIn: { code: 10, meaning: 'not logged in' },
  keyRejected: { code: 11, meaning: 'key rejected: invalid, revoked or expired' },
  deviceMismatch: {
    code: 12,
    meaning: 'device mismatch: the credentials belong to another device, or the binding moved away',
  },
  backendUnreachable: { code: 13, meaning: 'backend unreachable: network error, timeout, 5xx after retries' },
  forbidden: { code: 14, meaning: 'forbidden or plan limit' },
  localFiles: {
    code: 15,
    meaning: 'local files or key store unusable: corrupt, unsafe, unwritable; agent, keyring or TPM missing',
  },
  interrupted: { code: 130, meaning: 'interrupted (Ctrl+C)' },
} as const;

export type ExitName = keyof typeof EXIT_CODES;
export type ExitCodeValue = (typeof EXIT_CODES)[ExitName]['code'];

/** The numbers by name, for the few places that compare or return them. */
export const ExitCode = Object.freeze(
  Object.fromEntries(Object.entries(EXIT_CODES).map(([name, { code }]) => [name, code])),
) as { readonly [Name in ExitName]: (typeof EXIT_CODES)[Name]['code'] };

export interface ErrorOptions {
  /** Extra facts for --json (never secrets). */
  readonly details?: Readonly<Record<string, unknown>>;
  /** The next action, e.g. "Run 'sekuire login' to authenticate"; rendered on its own line. */
  readonly hint?: string;
}

export class SekuireError extends Error {
  override readonly name: string = 'SekuireError';
  readonly exitCode: ExitCodeValue;
  readonly details: Readonly<Record<string, unknown>>;
  readonly hint: string | undefined;
  constructor(
    /** Stable machine-readable code, e.g. `invalid_key`, `device_mismatch`. */
    readonly code: string,
    message: string,
    readonly exit: ExitName,
    options: ErrorOptions = {},
  ) {
    super(message);
    this.exitCode = EXIT_CODES[exit].code;
    this.details = options.details ?? {};
    this.hint = options.hint;
  }
}

/** Bad flag, setting or key; no terminal to prompt on. */
export class UsageError extends SekuireError {
  override readonly name = 'UsageError';
  constructor(message: string, code = 'usage', options?: ErrorOptions) {
    super(code, message, 'usage', options);
  }
}

export const LOGIN_HINT = "Run 'sekuire login' to authenticate";

export class NotLoggedInError extends SekuireError {
  override readonly name = 'NotLoggedInError';
  constructor(message = 'Not logged in', options: ErrorOptions = { hint: LOGIN_HINT }) {
    super('not_logged_in', message, 'notLoggedIn', options);
  }
}

/** The backend says the key is unknown, revoked or expired. */
export class KeyRejectedError extends SekuireError {
  override readonly name = 'KeyRejectedError';
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, 'keyRejected', options);
  }
}

/** The credentials (or the key's binding) belong to another device. */
export class DeviceMismatchError extends SekuireError {
  override readonly name = 'DeviceMismatchError';
  constructor(message: string, code = 'device_mismatch', options?: ErrorOptions) {
    super(code, message, 'deviceMismatch', options);
  }
}

/** Network error, timeout, 5xx after retries, or an answer that is not the protocol. */
export class BackendUnreachableError extends SekuireError {
  override readonly name = 'BackendUnreachableError';
  constructor(message: string, code = 'backend_unreachable', options?: ErrorOptions) {
    super(code, message, 'backendUnreachable', options);
  }
}

/** 403 forbidden or 402 plan_limit_exceeded. */
export class ForbiddenError extends SekuireError {
  override readonly name = 'ForbiddenError';
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, 'forbidden', options);
  }
}

/** auth.json, device-id, config.json or their directory cannot be read or written safely. */
export class CredentialsFileError extends SekuireError {
  override readonly name = 'CredentialsFileError';
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, 'localFiles', options);
  }
}

export class InterruptedError extends SekuireError {
  override readonly name = 'InterruptedError';
  constructor() {
    super('interrupted', 'Interrupted', 'interrupted');
  }
}
