// Is a presented key valid: the hot path, served from the store's cache.
import { KeyFormatError, parseKey } from '@sekuire/shared/key';
import type { KeyState } from '../store/key-cache.js';
import type { Store } from '../store/store.js';
import { digestsEqual, keyDigest, type Secrets, secretId } from './digest.js';
import { keyStatus } from './keys.js';

/** Writes of "last used" and "last seen" happen at most this often per key and device. */
export const USE_RESOLUTION_MS = 60_000;

export type KeyCheck =
  | { readonly ok: true; readonly state: KeyState }
  /** unknown: never issued, malformed, or not this server's (the same answer for all three). */
  | { readonly ok: false; readonly reason: 'unknown' }
  /** `state`: whose key it was (/verify answers another organization's as unknown). */
  | { readonly ok: false; readonly reason: 'revoked'; readonly state: KeyState }
  | { readonly ok: false; readonly reason: 'expired'; readonly expiresAt: string; readonly state: KeyState };

function isWellFormed(text: string): boolean {
  try {
    parseKey(text);
    return true;
  } catch (error) {
    if (error instanceof KeyFormatError) return false;
    throw error;
  }
}

/**
 * Checks a presented key. A malformed key is digested and looked up like any other, so the two
 * cost the same and answer the same. Each secret is tried, newest first; a key found under an
 * older one gets its digest under the newest now, the one moment the key itself is at hand.
 */
export async function checkKey(
  store: Store,
  secrets: Secrets,
  text: string | undefined,
  now: Date,
): Promise<KeyCheck> {
  if (text === undefined) return { ok: false, reason: 'unknown' };
  const wellFormed = isWellFormed(text);
  const found = await findKey(store, secrets, text.trim());
  if (!wellFormed || found === undefined) return { ok: false, reason: 'unknown' };
  const { state } = found;
  const status = keyStatus(state.record.key, now);
  if (status === 'revoked') return { ok: false, reason: 'revoked', state };
  if (status === 'expired')
    return { ok: false, reason: 'expired', expiresAt: state.record.key.expires_at ?? '', state };
  if (found.under === secrets[0]) return { ok: true, state };
  const digest = keyDigest(secrets[0], text.trim());
  // One statement: a request racing this one finds the row under one digest or the other.
  // Every other instance learns of it as of any change to a digest (and finds it either way).
  await store.read.keys.redigest(state.record.digest, digest, secretId(secrets[0]));
  return { ok: true, state: { ...state, record: { ...state.record, digest } } };
}

async function findKey(
  store: Store,
  secrets: Secrets,
  text: string,
): Promise<{ state: KeyState; under: Buffer } | undefined> {
  for (const secret of secrets) {
    const digest = keyDigest(secret, text);
    const state = await store.keyState(digest);
    if (state !== undefined && digestsEqual(state.record.digest, digest)) return { state, under: secret };
  }
  return undefined;
}

/** Records that the key was used (at most once a minute), for "last used" on lists and pages. */
export async function recordKeyUse(store: Store, state: KeyState, now: Date): Promise<void> {
  const last = state.record.key.last_used_at;
  if (last !== null && now.getTime() - Date.parse(last) < USE_RESOLUTION_MS) return;
  const at = now.toISOString();
  await store.read.keys.touch(state.record.key.id, at);
  store.updateCached(state.record.digest, (current) => ({
    ...current,
    record: { ...current.record, key: { ...current.record.key, last_used_at: at } },
  }));
}
