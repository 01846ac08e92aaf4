// How many password hashes run at once. Each scrypt takes ~275 ms and 128 MiB on one of libuv's
// 4 pool threads; a burst of sign-ins (the sign-in limits allow 30 per address, and addresses are
// many) would otherwise take every thread and every core, and whatever else needs them waits.
// Past the slots a few wait in line; past the line the answer is "busy, retry", at once.

export interface PasswordSlotLimit {
  /** Hashes computed at once. */
  readonly inFlight: number;
  /** Checks waiting for a slot; one more is refused. */
  readonly waiting: number;
}

/**
 * Two hashes at once leave two pool threads, and on a small machine a core, to everything else:
 * 256 MiB at most, ~7 checks a second. Eight waiting is about a second of queue.
 */
export const DEFAULT_PASSWORD_SLOTS: PasswordSlotLimit = { inFlight: 2, waiting: 8 };

export interface PasswordSlots {
  /** Runs `check` in a slot, once one is free; 'busy' at once when the line is full too. */
  run<T>(check: () => Promise<T>): Promise<T | 'busy'>;
}

export function passwordSlots(limit: PasswordSlotLimit): PasswordSlots {
  let running = 0;
  const line: (() => void)[] = [];
  return {
    async run(check) {
      if (running < limit.inFlight) running += 1;
      else if (line.length < limit.waiting) await new Promise<void>((resolve) => line.push(resolve));
      else return 'busy';
      try {
        return await check();
      } finally {
        // The slot goes straight to the first in line, so nobody arriving meanwhile jumps it.
        const next = line.shift();
        if (next === undefined) running -= 1;
        else next();
      }
    },
  };
}
