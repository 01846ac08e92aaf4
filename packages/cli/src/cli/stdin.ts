// Reads a key given on stdin (--with-key): piped (the first line), or typed on a terminal without echo.
import { InterruptedError, UsageError } from '../core/errors.js';
import type { Context } from './context.js';

const MAX_BYTES = 4096;
/** A pipe that never delivers must not hang a CI job. */
const PIPE_TIMEOUT_MS = 10_000;

function tooLong(): UsageError {
  return new UsageError(
    '--with-key read more than 4 KiB without a line break: that is not an API key.',
    'malformed_key',
  );
}

/** The key from a pipe or file: the first line, or everything up to EOF. */
function readPiped(ctx: Context): Promise<string> {
  const { stdin } = ctx;
  return new Promise((resolve, reject) => {
    let text = '';
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
      else if (text.length > MAX_BYTES) finish(tooLong());
    };
    const onEnd = () => finish(undefined, text);
    const onError = (error: Error) =>
      finish(new UsageError(`Cannot read the key from stdin: ${error.message}`));
    const timer = setTimeout(
      () =>
        finish(
          new UsageError(
            '--with-key reads the key from stdin, but nothing arrived within 10 s.',
            'no_key_on_stdin',
            {
              hint: 'Pipe it in: printf \'%s\' "$SEKUIRE_KEY" | sekuire login --with-key',
            },
          ),
        ),
      PIPE_TIMEOUT_MS,
    );
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    stdin.resume();
  });
}

// Escape sequences (arrow keys, the bracketed-paste markers some terminals wrap around a paste).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const ESCAPES = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

/**
 * The key typed or pasted on a terminal, with echo off (raw mode), so it never shows on the
 * screen or in a recording of it. Enter ends it; Ctrl+C is an interrupt (130); Ctrl+D ends
 * an empty line. The terminal is handed back as it was, whatever happens.
 */
function readHidden(ctx: Context): Promise<string> {
  const { stdin } = ctx;
  ctx.stderr.write('Reading the API key from the terminal (input hidden): paste it and press Enter.\n');
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (error: Error | undefined) => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.removeListener('error', onError);
      stdin.setRawMode?.(false);
      stdin.pause();
      ctx.stderr.write('\n');
      if (error) reject(error);
      else resolve(text);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString().replace(ESCAPES, '')) {
        if (char === '\r' || char === '\n') return finish(undefined);
        if (char === '\u0003') return finish(new InterruptedError());
        if (char === '\u0004') {
          if (text === '') return finish(undefined);
          continue;
        }
        if (char === '\u007f' || char === '\b') text = text.slice(0, -1);
        else if (char >= ' ') text += char;
        if (text.length > MAX_BYTES) return finish(tooLong());
      }
    };
    // The terminal went away (hang-up): what was typed so far is all there is.
    const onEnd = () => finish(undefined);
    const onError = (error: Error) =>
      finish(new UsageError(`Cannot read the key from the terminal: ${error.message}`));
    stdin.setRawMode?.(true);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    stdin.resume();
  });
}

export function readKeyFromStdin(ctx: Context): Promise<string> {
  return ctx.stdin.isTTY ? readHidden(ctx) : readPiped(ctx);
}
