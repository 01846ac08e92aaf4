// Where the JSON log goes under `start`: standard error, its lines gathered and written every few milliseconds.

/** Lines wait at most this long (a crash loses at most this much of the log). */
const FLUSH_EVERY_MS = 10;
/** Or until this much has gathered: one write of a pipe's worth instead of hundreds of small ones. */
const FLUSH_AT_CHARS = 64 * 1024;

/**
 * A write to a pipe per request cost about a fifth of a cached status answer (a system call, and
 * a wake-up of whoever reads the pipe); gathered, the log costs a few writes a second. pino's
 * logger.flush() calls flush(): the app's onClose does, so a stop loses no line.
 */
export function batchedStderr(): { write(line: string): void; flush(done?: () => void): void } {
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending === '') return;
    const text = pending;
    pending = '';
    process.stderr.write(text);
  };
  return {
    write(line) {
      pending += line;
      if (pending.length >= FLUSH_AT_CHARS) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, FLUSH_EVERY_MS);
        // The server's own handles keep it running; a pending flush must not on its own.
        timer.unref();
      }
    },
    flush(done) {
      flush();
      done?.();
    },
  };
}
