// Typed errors: each carries a stable code (for --json and scripts) and the exit code of CLI.md.

export const ExitCode = {
  ok: 0,
  bug: 1,
  usage: 2,
  notLoggedIn: 10,
  keyRejected: 11,
  deviceMismatch: 12,
  backendUnreachable: 13,
  forbidden: 14,
  localFiles: 15,
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class SekuireError extends Error {
  override readonly name: string = 'SekuireError';
  constructor(
    /** Stable machine-readable code, e.g. `invalid_key`, `device_mismatch`. */
    readonly code: string,
    message: string,
    readonly exitCode: ExitCodeValue,
    /** Extra facts for --json (never secrets). */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

/** Bad flag, malformed key, no terminal to prompt on. */
export class UsageError extends SekuireError {
  override readonly name = 'UsageError';
  constructor(message: string, code = 'usage', details?: Record<string, unknown>) {
    super(code, message, ExitCode.usage, details);
  }
}

export class NotLoggedInError extends SekuireError {
  override readonly name = 'NotLoggedInError';
  constructor(message = "Not logged in\nRun 'sekuire login' to authenticate") {
    super('not_logged_in', message, ExitCode.notLoggedIn);
  }
}

/** The backend says the key is unknown, revoked or expired. */
export class KeyRejectedError extends SekuireError {
  override readonly name = 'KeyRejectedError';
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, ExitCode.keyRejected, details);
  }
}

/** The credentials (or the key's binding) belong to another device. */
export class DeviceMismatchError extends SekuireError {
  override readonly name = 'DeviceMismatchError';
  constructor(message: string, code = 'device_mismatch', details?: Record<string, unknown>) {
    super(code, message, ExitCode.deviceMismatch, details);
  }
}

/** Network error, timeout, 5xx after retries, or an answer that is not the protocol. */
export class BackendUnreachableError extends SekuireError {
  override readonly name = 'BackendUnreachableError';
  constructor(message: string, code = 'backend_unreachable', details?: Record<string, unknown>) {
    super(code, message, ExitCode.backendUnreachable, details);
  }
}

/** 403 forbidden or 402 plan_limit_exceeded. */
export class ForbiddenError extends SekuireError {
  override readonly name = 'ForbiddenError';
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, ExitCode.forbidden, details);
  }
}

/** auth.json or its directory cannot be read or written safely. */
export class CredentialsFileError extends SekuireError {
  override readonly name = 'CredentialsFileError';
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, ExitCode.localFiles, details);
  }
}

export class InterruptedError extends SekuireError {
  override readonly name = 'InterruptedError';
  constructor() {
    super('interrupted', 'Interrupted', ExitCode.interrupted);
  }
}
