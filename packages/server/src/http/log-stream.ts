// Where the JSON log goes under `start`: standard error, its lines written together once per event-loop turn.

/**
 * A write to a pipe per request costs about what the rest of a cached status answer does: lines
 * written during one turn of the event loop go out in one write at the end of that turn (so a
 * line is late by less than a turn, and nothing waits for a timer).
 */
export function batchedStderr(): { write(line: string): void } {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const text = pending.join('');
    pending = [];
    process.stderr.write(text);
  };
  return {
    write(line) {
      pending.push(line);
      if (scheduled) return;
      scheduled = true;
      setImmediate(flush);
    },
  };
}
