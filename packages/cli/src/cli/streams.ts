// This process's stdout and stderr, each created on first use with the error listener every command needs.
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

export function processStreams(): Streams {
  const stdout = lazyStream('stdout');
  const stderr = lazyStream('stderr');
  return {
    get stdout() {
      return stdout();
    },
    get stderr() {
      return stderr();
    },
  };
}
