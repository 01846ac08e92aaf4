// Reads a key piped on stdin (--with-key): the first line, or all of it up to EOF.
import { UsageError } from '../core/errors.js';
import type { Context } from './context.js';

const MAX_BYTES = 4096;
/** A pipe that never delivers must not hang a CI job. */
const PIPE_TIMEOUT_MS = 10_000;

export function readKeyFromStdin(ctx: Context): Promise<string> {
  const { stdin } = ctx;
  return new Promise((resolve, reject) => {
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = (error: Error | undefined, value?: string) => {
      clearTimeout(timer);
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.removeListener('error', onError);
      stdin.pause();
      // Let the process exit even though stdin is still open.
      (stdin as { unref?: () => void }).unref?.();
      if (error) reject(error);
      else resolve(value ?? '');
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      const newline = text.indexOf('\n');
      if (newline !== -1) finish(undefined, text.slice(0, newline));
      else if (text.length > MAX_BYTES) {
        finish(
          new UsageError(
            '--with-key read more than 4 KiB from stdin without a line break: that is not an API key.',
            'malformed_key',
          ),
        );
      }
    };
    const onEnd = () => finish(undefined, text);
    const onError = (error: Error) =>
      finish(new UsageError(`Cannot read the key from stdin: ${error.message}`));
    if (!stdin.isTTY) {
      timer = setTimeout(
        () =>
          finish(
            new UsageError(
              '--with-key reads the key from stdin, but nothing arrived within 10 s. Pipe it in: printf \'%s\' "$SEKUIRE_KEY" | sekuire login --with-key',
              'no_key_on_stdin',
            ),
          ),
        PIPE_TIMEOUT_MS,
      );
    }
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    stdin.resume();
  });
}
