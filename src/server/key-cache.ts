// A key's record and active device, kept in memory until the database changes under them.
import type { KeyRecord } from './accounts.js';
import type { Db } from './db.js';
import type { DeviceRow } from './devices.js';

/** What a request with a key needs from the database. */
export interface KeyState {
  readonly record: KeyRecord;
  /** The active binding; undefined when the key is bound to no device. */
  readonly device: DeviceRow | undefined;
}

export interface KeyCache {
  /** The state for a digest, from memory unless the database changed since it was read. */
  lookup(digest: Buffer): KeyState | undefined;
  /** Called after this process writes: its own commits do not move data_version. */
  forgetAll(): void;
}

/** Enough for every key that is busy at once; beyond it the cache starts over. */
const MAX_ENTRIES = 10_000;

/**
 * Revocation and rebinding must apply to the very next request, so an entry lives only while
 * the database is unchanged: SQLite's data_version moves whenever another connection (another
 * process, such as `sekuire-server revoke-key`) commits, and this process's own writes call
 * forgetAll. Measured: the two lookups were about 45 % of the server's time per request.
 *
 * Reading data_version takes SQLite's WAL read lock and still costs ~20 % of throughput. Reading
 * it once per event-loop turn gained ~10 %, but libuv may poll again within one turn, so a
 * request could then be served from an entry older than a commit made before it was sent: the
 * promise is worth more than that.
 */
/** `read` fetches a key's state from the database on a miss. */
export function createKeyCache(db: Db, read: (digest: Buffer) => KeyState | undefined): KeyCache {
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  const entries = new Map<string, KeyState>();
  let seenVersion = dataVersion.get();
  return {
    lookup(digest) {
      const version = dataVersion.get();
      if (version !== seenVersion) {
        entries.clear();
        seenVersion = version;
      }
      const id = digest.toString('latin1');
      const cached = entries.get(id);
      if (cached !== undefined) return cached;
      const state = read(digest);
      // Unknown keys are not kept: whoever sprays them must not fill the memory.
      if (state === undefined) return undefined;
      if (entries.size >= MAX_ENTRIES) entries.clear();
      entries.set(id, state);
      return state;
    },
    forgetAll() {
      entries.clear();
    },
  };
}
