// Each key's record and binding, kept in memory while nothing that could change them has happened.
import type { DeviceRow } from './queries/devices.js';
import type { KeyRecord } from './queries/keys.js';

export interface KeyState {
  readonly record: KeyRecord;
  /** The key's active binding; undefined when it is bound to no device. */
  readonly device: DeviceRow | undefined;
}

/** Enough for every key that is busy at once; beyond it the cache starts over. */
const MAX_ENTRIES = 10_000;

export interface KeyCache {
  /** The state for a digest: from memory when allowed and present, else from `read`. */
  lookup(digest: Buffer): Promise<KeyState | undefined>;
  /**
   * Applies a write that only this process needs to see (last used, last seen) to the entry as
   * it is now, if there is one: never to a state read before a change.
   */
  update(digest: Buffer, change: (state: KeyState) => KeyState): void;
  /** Forgets everything; reads already under way will not be kept either. */
  clear(): void;
}

/**
 * `read` fetches a key's state from the database on a miss; `usable` says whether entries may be
 * served at all (PostgreSQL: only while this instance is surely told of every change).
 *
 * A read that began before a clear() may finish after it with what was true before the change:
 * the generation counter keeps such a result out of the cache, so the promise "a revocation
 * applies to the very next request" holds however the reads and clears interleave.
 */
export function createKeyCache(
  read: (digest: Buffer) => Promise<KeyState | undefined>,
  usable: () => boolean = () => true,
): KeyCache {
  const entries = new Map<string, KeyState>();
  let generation = 0;
  return {
    async lookup(digest) {
      if (!usable()) return read(digest);
      const id = digest.toString('latin1');
      const cached = entries.get(id);
      if (cached !== undefined) return cached;
      const started = generation;
      const state = await read(digest);
      // Unknown keys are not kept: whoever sprays them must not fill the memory.
      if (state === undefined || started !== generation || !usable()) return state;
      if (entries.size >= MAX_ENTRIES) entries.clear();
      entries.set(id, state);
      return state;
    },
    update(digest, change) {
      const id = digest.toString('latin1');
      const current = entries.get(id);
      if (current !== undefined) entries.set(id, change(current));
    },
    clear() {
      generation++;
      entries.clear();
    },
  };
}
