// Waiting for a daemon a test started: ready, exited, or given up on (then stopped, its folder removed).
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/** Polls `check` every 10 ms for up to 10 s; rejects at once if `child` exits first. */
export async function until(check: () => boolean, what: string, child: ChildProcess): Promise<void> {
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready`))),
  );
  exited.catch(() => undefined);
  for (let i = 0; i < 1000 && !check(); i++) {
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 10)), exited]);
  }
  if (!check()) throw new Error(`${what} was not ready`);
}

/**
 * Stops daemons that never became ready and removes their folder, then rethrows: nobody else
 * holds their PIDs.
 */
export function abandon(error: unknown, dir: string, ...children: ChildProcess[]): never {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  throw error;
}
