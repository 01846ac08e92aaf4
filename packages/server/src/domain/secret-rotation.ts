// What still depends on each server secret: the keys and sessions whose digests it made.
import type { Store } from '../store/store.js';
import { type Secrets, secretId } from './digest.js';

export interface DependentKey {
  readonly id: string;
  readonly masked: string;
  readonly name: string;
}

export interface SecretDependents {
  /** The secret's short name (digest.ts secretId), never the secret. */
  readonly id: string;
  /** newest: makes every new digest; older: still accepted; unlisted: made digests no instance given these secrets accepts. */
  readonly role: 'newest' | 'older' | 'unlisted';
  /** Keys that still work (neither revoked nor expired). */
  readonly keys: readonly DependentKey[];
  /** Open sessions with a working token under it, and those tokens. */
  readonly sessions: number;
  readonly tokens: number;
}

/**
 * Per secret, newest first, then any that made digests but is not listed. A row from before
 * secret ids were recorded (migration 9) was made under the one secret of its day, which
 * nobody can name now: it counts under every older secret (under the only one when one is
 * listed), so that no older secret is called droppable while such a row may depend on it. A
 * key or token found under an older secret gets its record when it is digested anew.
 */
export async function secretDependents(
  store: Store,
  secrets: Secrets,
  now: Date,
): Promise<SecretDependents[]> {
  const at = now.toISOString();
  const ids = secrets.map(secretId);
  const unrecorded = ids.length === 1 ? ids : ids.slice(1);
  const owners = (id: string | null): readonly string[] => (id === null ? unrecorded : [id]);
  const result = new Map<string, { keys: DependentKey[]; sessions: Set<string>; tokens: number }>();
  const entry = (id: string) => {
    let found = result.get(id);
    if (found === undefined) {
      found = { keys: [], sessions: new Set(), tokens: 0 };
      result.set(id, found);
    }
    return found;
  };
  for (const id of ids) entry(id);
  for (const key of await store.read.keys.workingBySecret(at)) {
    for (const id of owners(key.secret_id))
      entry(id).keys.push({ id: key.id, masked: key.masked, name: key.name });
  }
  for (const token of await store.read.sessions.workingTokensBySecret(at)) {
    for (const id of owners(token.secret_id)) {
      const found = entry(id);
      found.sessions.add(token.session_id);
      found.tokens++;
    }
  }
  return [...result].map(([id, found], index) => ({
    id,
    role: index === 0 ? 'newest' : ids.includes(id) ? 'older' : 'unlisted',
    keys: found.keys,
    sessions: found.sessions.size,
    tokens: found.tokens,
  }));
}
