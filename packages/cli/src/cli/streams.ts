// This process's stdout and stderr, each created on first use with the error listener every command needs.
import { writeSync } from 'node:fs';
import type { OutStream } from './context.js';

export interface Streams {
  readonly stdout: OutStream;
  readonly stderr: OutStream;
}

/**
 * process.stdout or process.stderr, created on first use (creating one costs start-up time: a
 * tty or pipe stream, and `status` that succeeds never writes to stderr), with a listener that
 * keeps a write error (reported through each write's callback, see deliver.ts) from becoming
 * an uncaught exception, and a closed pipe from ending the process early.
 */
function lazyStream(name: 'stdout' | 'stderr'): () => NodeJS.WriteStream {
  let stream: NodeJS.WriteStream | undefined;
  return () => {
    if (stream === undefined) {
      stream = process[name];
      stream.on('error', () => {});
    }
    return stream;
  };
}

/**
 * Writes straight to the file descriptor, as process.stdout itself does on POSIX for files, pipes
 * and terminals (synchronously), without creating that stream: process.stdout is a tty or pipe
 * stream whose modules (net, tty, stream) cost 2-3 ms at every start, more than `status` spends
 * on anything of its own. Only for a process in which nothing else writes to the same stream
 * (mixing the two could reorder output); a descriptor someone made non-blocking may refuse a
 * write (EAGAIN), and the rest then goes through the stream, which waits for the reader.
 */
function descriptorStream(fd: 1 | 2, fallback: () => NodeJS.WriteStream): OutStream {
  let tty: boolean | undefined;
  let viaStream = false;
  return {
    get isTTY() {
      tty ??= (process.getBuiltinModule('node:tty') as typeof import('node:tty')).isatty(fd);
      return tty;
    },
    write(chunk, callback) {
      if (viaStream) return fallback().write(chunk, callback);
      let bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
      try {
        while (bytes.length > 0) bytes = bytes.subarray(writeSync(fd, bytes));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') {
          process.nextTick(() => callback?.(error as Error));
          return false;
        }
        viaStream = true;
        return fallback().write(bytes, callback);
      }
      process.nextTick(() => callback?.(null));
      return true;
    },
  };
}

/**
 * The streams a command writes to. `direct`: through the descriptors (see descriptorStream),
 * for `status`, which writes nothing else; Windows keeps the streams (its console needs them).
 */
export function processStreams(direct = false): Streams {
  const stdout = lazyStream('stdout');
  const stderr = lazyStream('stderr');
  if (direct && process.platform !== 'win32') {
    return { stdout: descriptorStream(1, stdout), stderr: descriptorStream(2, stderr) };
  }
  return {
    get stdout() {
      return stdout();
    },
    get stderr() {
      return stderr();
    },
  };
}
