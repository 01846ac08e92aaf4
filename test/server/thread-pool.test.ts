// A signed request needs no thread of libuv's pool: password hashes fill that pool during a
// sign-in burst, and a CLI's status must not wait behind them.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { forEachEngine } from '../helpers/engines.js';
import { FP_A, type Harness, harness } from './harness.js';

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
});
