// One error vocabulary: the status follows from the code, one classifier for the JSON and the
// HTML answers, one 429.
import { describe, expect, it } from 'vitest';
import { ApiError, ERROR_STATUS, rateLimited } from '../../packages/server/src/http/api-error.js';
import { classifyError } from '../../packages/server/src/http/error-replies.js';
import { StoreError } from '../../packages/server/src/store/errors.js';

describe('the status follows from the code', () => {
  it('every code has one status, and an ApiError always answers it', () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      const error = new ApiError(code as keyof typeof ERROR_STATUS, 'x');
      expect([code, error.statusCode]).toEqual([code, status]);
    }
  });

  it('a status written by hand that disagrees with the code is not what is sent', () => {
    // The older form still compiles (other branches use it); the table decides.
    expect(new ApiError(400, 'not_found', 'No such key.').statusCode).toBe(404);
    expect(new ApiError(500, 'rate_limited', 'Slow down.').statusCode).toBe(429);
  });
});

describe('one classifier', () => {
  it('an ApiError as thrown; the database unreachable as 503 with Retry-After; a CSRF failure as 403; anything else 500', () => {
    const thrown = new ApiError('forbidden', 'No.');
    expect(classifyError(thrown)).toEqual({ error: thrown, unexpected: false });
    const down = classifyError(new StoreError('unavailable', 'gone'));
    expect([down.error.statusCode, down.error.code, down.error.headers, down.unexpected]).toEqual([
      503,
      'service_unavailable',
      { 'retry-after': '1' },
      false,
    ]);
    const csrf = classifyError(
      Object.assign(new Error('bad token'), { code: 'FST_CSRF_INVALID_TOKEN', statusCode: 403 }),
    );
    expect([csrf.error.statusCode, csrf.error.code, csrf.unexpected]).toEqual([403, 'csrf_failed', false]);
    const bug = classifyError(new TypeError('x is undefined'));
    expect([bug.error.statusCode, bug.error.body(), bug.unexpected]).toEqual([
      500,
      { error: 'internal_error', message: 'Internal server error.' },
      true,
    ]);
    expect(classifyError('a string thrown').unexpected).toBe(true);
  });
});

describe('one 429', () => {
  it('names what was too many, says when to retry, and sends Retry-After in whole seconds', () => {
    const error = rateLimited('failed API key checks from this address', 12.2);
    expect([error.statusCode, error.body(), error.headers]).toEqual([
      429,
      {
        error: 'rate_limited',
        message: 'Too many failed API key checks from this address; retry in 13 seconds.',
      },
      { 'retry-after': '13' },
    ]);
    expect(rateLimited('sign-in attempts', 0).headers).toEqual({ 'retry-after': '1' });
  });
});
