// Writes a command's output and waits until it is handed over; a write that fails becomes the command's failure.
import { ExitCode, SekuireError } from '../core/errors.js';
import type { OutStream } from './context.js';
import type { Streams } from './streams.js';

/** Writes and waits until the text is handed over; rejects when the stream reports an error. */
export function emit(stream: OutStream, text: string | Uint8Array): Promise<void> {
  if (text.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    try {
      stream.write(text, (error) => (error ? reject(error) : resolve()));
    } catch (error) {
      reject(error);
    }
  });
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A result that could not be written is a failure, except a reader that closed the pipe on purpose. */
export async function deliver(ctx: Streams, text: string | Uint8Array, code: number): Promise<number> {
  try {
    await emit(ctx.stdout, text);
    return code;
  } catch (error) {
    const errno = errnoOf(error);
    // `sekuire auth token | head -c 1`: the reader took what it wanted.
    if (errno === 'EPIPE') return code;
    const why = errno === 'ENOSPC' ? 'no space left on the device' : (errno ?? String(error));
    const failure = new SekuireError(
      'output_failed',
      `Cannot write the output to standard output: ${why}${errno && errno !== why ? ` (${errno})` : ''}.${code === ExitCode.ok ? ' The command itself completed.' : ''}`,
      'bug',
      { hint: 'Check where standard output goes (a full disk, a closed file)' },
    );
    // Loaded only here: `--version`, which comes through deliver too, never renders an error.
    const { renderError } = await import('./output.js');
    await emit(ctx.stderr, renderError(failure, false).stderr).catch(() => {});
    return failure.exitCode;
  }
}
