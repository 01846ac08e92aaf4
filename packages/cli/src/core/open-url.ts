// Starts the program that opens a URL in the browser, and lets it go (loaded only by browser login).
import { spawn } from 'node:child_process';
import type { Opener } from './browser.js';

/** Starts the opener and lets it go; resolves with why it could not start, or undefined. */
export function openWith(opener: Extract<Opener, { command: string }>): Promise<string | undefined> {
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(opener.command, [...opener.args], {
        detached: true,
        stdio: 'ignore',
        windowsVerbatimArguments: opener.verbatim === true,
      });
    } catch (error) {
      resolve((error as Error).message);
      return;
    }
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'ENOENT' ? `${opener.command}: not found` : error.message),
    );
    child.once('spawn', () => {
      child.unref();
      resolve(undefined);
    });
  });
}
