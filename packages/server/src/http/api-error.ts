// The HTTP error every route throws: status, wire code, human message and extra fields.

export type ApiErrorCode =
  | 'invalid_request'
  | 'invalid_key'
  | 'key_revoked'
  | 'key_expired'
  | 'forbidden'
  | 'plan_limit_exceeded'
  | 'device_mismatch'
  | 'rate_limited'
  | 'not_found'
  | 'payload_too_large'
  | 'request_timeout'
  | 'internal_error'
  | 'service_unavailable'
  | 'invalid_credentials'
  | 'invalid_token'
  | 'csrf_failed'
  | 'key_not_active'
  | 'unsupported_grant_type'
  | 'invalid_grant'
  | 'authorization_pending'
  | 'slow_down'
  | 'access_denied'
  | 'expired_token'
  | 'proof_required'
  | 'invalid_proof'
  | 'proof_stale'
  | 'proof_replayed'
  | 'move_not_pending'
  | 'not_bound';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.extra };
  }
}
