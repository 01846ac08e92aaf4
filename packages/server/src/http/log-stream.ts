// Where the JSON log goes under `start`: standard error, its lines written together once per event-loop turn.

/**
 * A write to a pipe per request costs about what the rest of a cached status answer does: lines
 * written during one turn of the event loop go out in one write at the end of that turn (so a
 * line is late by less than a turn, and nothing waits for a timer).
 */
export function batchedStderr(): { write(line: string): void; flush(done?: () => void): void } {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    process.stderr.write(text);
  };
  return {
    write(line) {
      pending += line;
      if (scheduled) return;
      scheduled = true;
      setImmediate(flush);
    },
    // pino's logger.flush() calls this: the app's onClose does, so a stop loses no line.
    flush(done) {
      flush();
      done?.();
    },
  };
}
