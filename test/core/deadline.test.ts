// The default policy against a backend that never answers, on a fake clock: what the 25 s deadline allows, and what the message says.

import { mintKey } from '@sekuire/shared/key';
import { describe, expect, it } from 'vitest';
import { BackendClient } from '../../packages/cli/src/core/client.js';
import { BackendUnreachableError } from '../../packages/cli/src/core/errors.js';
import type { Limits } from '../../packages/cli/src/core/http/attempt.js';
import { Failure } from '../../packages/cli/src/core/http/failures.js';
import {
  DEFAULT_POLICY,
  type NetworkPolicy,
  networkPolicy,
} from '../../packages/cli/src/core/http/policy.js';
import type { AttemptRunner } from '../../packages/cli/src/core/http/send.js';

/** A clock that moves only when an attempt or a backoff says so. */
function fakeClock() {
  let now = 0;
  const attempts: { startedAt: number; limits: Limits }[] = [];
  const sleeps: number[] = [];
  /** A silent backend: each attempt uses its whole budget, then fails as the transport does. */
  const silent: AttemptRunner = async (_hop, _headers, _proxy, limits) => {
    attempts.push({ startedAt: now, limits });
    now += limits.budgetMs;
    const { budgetLimit: limit } = limits;
    throw limit.name === 'deadline'
      ? new Failure('deadline', 'deadline', true, false, undefined, limit)
      : new Failure('timeout', 'timeout', true, true, undefined, limit);
  };
  return {
    attempts,
    sleeps,
    elapsed: () => now,
    transport: {
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
      random: () => 1,
      attempt: silent,
    },
  };
}

async function statusAgainstSilence(policy: NetworkPolicy) {
  const clock = fakeClock();
  const client = new BackendClient({
    backend: new URL('http://127.0.0.1:9'),
    backendSource: 'SEKUIRE_BACKEND_URL',
    key: mintKey('live'),
    fingerprint: 'ab'.repeat(32),
    policy,
    env: {},
    transport: clock.transport,
  });
  const error = await client.status().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(BackendUnreachableError);
  return { clock, error: error as BackendUnreachableError };
}

describe('a silent backend under the default policy', () => {
  it('gets three attempts of at most 10 s, and an answer (exit 13) within the 25 s deadline', async () => {
    const { clock, error } = await statusAgainstSilence(DEFAULT_POLICY);
    expect(clock.attempts.map((a) => [a.startedAt, a.limits.budgetMs, a.limits.budgetLimit.name])).toEqual([
      [0, 10_000, 'attempt'],
      [10_250, 10_000, 'attempt'],
      [20_750, 4250, 'deadline'],
    ]);
    expect(clock.sleeps).toEqual([250, 500]);
    expect(clock.elapsed()).toBe(25_000);
    expect(error.exitCode).toBe(13);
    expect(error.message).toBe(
      'No answer from the Sekuire backend at http://127.0.0.1:9 within 25 s (the total deadline), after 3 attempts.',
    );
    expect(error.hint).toBe(
      "Try again later, or raise SEKUIRE_TIMEOUT or 'sekuire config set timeout' (seconds)",
    );
  });

  it('names the limit per attempt when that is what ran out', async () => {
    const { error } = await statusAgainstSilence({ ...DEFAULT_POLICY, retries: 0 });
    expect(error.message).toBe(
      'No complete answer from the Sekuire backend at http://127.0.0.1:9 within 10 s (the limit per attempt).',
    );
  });

  it('says what a tiny SEKUIRE_TIMEOUT allowed, not 0 s', async () => {
    const { clock, error } = await statusAgainstSilence(networkPolicy({ timeoutMs: 1 }));
    expect(clock.elapsed()).toBe(1);
    expect(error.message).toBe(
      'No answer from the Sekuire backend at http://127.0.0.1:9 within 1 ms (the total deadline).',
    );
  });
});
