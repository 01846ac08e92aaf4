// libuv's pool during a sign-in burst: a signed request needs none of its threads, and password
// hashes take only a few of them, the rest of a burst waiting in a short line or refused.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { passwordSlots } from '../../packages/server/src/domain/password-slots.js';
import { forEachEngine } from '../helpers/engines.js';
import { formSession } from './form-session.js';
import { FP_A, type Harness, harness, PASSWORD } from './harness.js';

/** A promise the test settles when it chooses. */
function held<T>() {
  let settle: (value: T) => void = () => {};
  const promise = new Promise<T>((resolve) => {
    settle = resolve;
  });
  return { promise, settle };
}

describe('password slots', () => {
  it('run that many checks at once, line up that many more, and refuse the next at once', async () => {
    const slots = passwordSlots({ inFlight: 2, waiting: 1 });
    const started: string[] = [];
    const checks = new Map<string, ReturnType<typeof held<string>>>();
    const run = (name: string) => {
      const check = held<string>();
      checks.set(name, check);
      return slots.run(() => {
        started.push(name);
        return check.promise;
      });
    };
    const a = run('a');
    const b = run('b');
    const c = run('c');
    expect(await run('d')).toBe('busy');
    expect(started).toEqual(['a', 'b']);
    checks.get('a')?.settle('A');
    expect(await a).toBe('A');
    // The freed slot went to the one in line: the line is free again, and only the line.
    expect(started).toEqual(['a', 'b', 'c']);
    const e = run('e');
    expect(await run('f')).toBe('busy');
    checks.get('b')?.settle('B');
    expect(await b).toBe('B');
    expect(started).toEqual(['a', 'b', 'c', 'e']);
    checks.get('c')?.settle('C');
    checks.get('e')?.settle('E');
    expect([await c, await e]).toEqual(['C', 'E']);
    // Everything is free again: two run at once.
    const g = run('g');
    const i = run('i');
    expect(started).toEqual(['a', 'b', 'c', 'e', 'g', 'i']);
    checks.get('g')?.settle('G');
    checks.get('i')?.settle('I');
    expect([await g, await i]).toEqual(['G', 'I']);
  });
});

/**
 * Occupies every thread of the pool: each opens a FIFO for reading, which blocks (on the pool)
 * until a writer opens it. The returned function opens them for writing and lets them all go.
 */
async function occupyThreadPool(dir: string): Promise<() => Promise<void>> {
  const size = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifos = Array.from({ length: size }, (_, index) => join(dir, `fifo-${index}`));
  execFileSync('mkfifo', fifos);
  const readers = fifos.map((fifo) => open(fifo, 'r'));
  return async () => {
    // Read-write never blocks on Linux, and counts as a writer: every blocked open returns.
    const writers = fifos.map((fifo) => openSync(fifo, constants.O_RDWR));
    for (const reader of await Promise.all(readers)) await reader.close();
    for (const writer of writers) closeSync(writer);
  };
}

forEachEngine((engine) => {
  let h: Harness;
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  it('a signed status is answered while every thread of the pool is busy', async () => {
    h = await harness({ engine });
    const { apiKey } = await h.createKey();
    expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
    const release = await occupyThreadPool(h.dir);
    try {
      const status = await h.get('/api/v1/cli/status', apiKey.value, FP_A);
      expect(status.statusCode).toBe(200);
      expect(status.json().device.fingerprint).toBe(FP_A);
    } finally {
      await release();
    }
  });
  it('past the password slots and their line a sign-in is answered 503 at once, nothing checked or recorded', async () => {
    const slots = passwordSlots({ inFlight: 1, waiting: 0 });
    h = await harness({ engine, passwordSlots: slots });
    await h.createUser({ email: 'ada@example.com' });
    const hold = held<void>();
    const holding = slots.run(() => hold.promise);
    const signIn = () =>
      h.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'ada@example.com', password: PASSWORD },
      });
    const busy = await signIn();
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.json()).toEqual({
      error: 'service_unavailable',
      message: 'Too many sign-ins at once; retry in a second.',
    });
    const page = await formSession(h).signIn('ada@example.com');
    expect(page.statusCode).toBe(503);
    expect(page.body).toContain('Too many people are signing in at once. Try again in a moment.');
    const events = (await h.store.read.audit.list()).map((event) => event.event);
    expect(events.filter((event) => event.startsWith('sign_in'))).toEqual([]);
    hold.settle();
    await holding;
    expect((await signIn()).statusCode).toBe(200);
  });
});
