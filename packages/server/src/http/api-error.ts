// The HTTP error every route throws: wire code, human message and extra fields; the status
// follows from the code, in one table.

/** PROTOCOL.md's error codes and the one HTTP status each answers with. */
export const ERROR_STATUS = {
  invalid_request: 400,
  unsupported_grant_type: 400,
  invalid_grant: 400,
  // RFC 8628 §3.5: a device-code poll's answers are 400s.
  authorization_pending: 400,
  slow_down: 400,
  access_denied: 400,
  expired_token: 400,
  invalid_key: 401,
  key_revoked: 401,
  key_expired: 401,
  invalid_credentials: 401,
  invalid_token: 401,
  proof_required: 401,
  invalid_proof: 401,
  proof_stale: 401,
  proof_replayed: 401,
  // A secret-scanning report whose signature does not verify.
  invalid_signature: 401,
  forbidden: 403,
  plan_limit_exceeded: 403,
  csrf_failed: 403,
  not_found: 404,
  request_timeout: 408,
  device_mismatch: 409,
  key_not_active: 409,
  move_not_pending: 409,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const satisfies Record<string, number>;

export type ApiErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** Always ERROR_STATUS[code]. */
  readonly statusCode: number;
  readonly code: ApiErrorCode;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ApiErrorCode,
    message: string,
    extra?: Readonly<Record<string, unknown>>,
    headers?: Readonly<Record<string, string>>,
  );
  /**
   * The older form, kept so that code written against it still compiles: the status given is
   * ignored, the code's own is used.
   * @deprecated name the code only.
   */
  constructor(
    status: number,
    code: ApiErrorCode,
    message: string,
    extra?: Readonly<Record<string, unknown>>,
    headers?: Readonly<Record<string, string>>,
  );
  constructor(...args: unknown[]) {
    const [code, message, extra, headers] = (typeof args[0] === 'number' ? args.slice(1) : args) as [
      ApiErrorCode,
      string,
      Readonly<Record<string, unknown>> | undefined,
      Readonly<Record<string, string>> | undefined,
    ];
    super(message);
    this.code = code;
    this.statusCode = ERROR_STATUS[code];
    this.extra = extra ?? {};
    this.headers = headers ?? {};
  }

  body(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.extra };
  }
}

/**
 * The one 429: every limit (failed key checks, proofs, grants, device codes, sign-ins) answers
 * with this shape, its Retry-After and a message naming what was too many.
 */
export function rateLimited(tooMany: string, retryAfterSeconds: number): ApiError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new ApiError(
    'rate_limited',
    `Too many ${tooMany}; retry in ${seconds} seconds.`,
    {},
    { 'retry-after': String(seconds) },
  );
}
