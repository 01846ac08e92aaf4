// A stored login outlives its binding: when this device's binding of a key ended, and how.
import type { Store } from '../store/store.js';

/** PROTOCOL.md `past_binding`: this device held the key, and no longer does. */
export interface PastBinding {
  readonly bound_at: string;
  readonly ended_at: string;
  /** move: the binding went to another device at that moment; unbind: a logout or an admin. */
  readonly ended_by: 'move' | 'unbind';
  readonly moved_to: { readonly name: string; readonly os: string } | null;
}

/**
 * For a key bound to no device now: this device's last binding of it, if it had one. A login
 * stored while that binding held is stale: the CLI refuses it (exit 12) until a new login.
 */
export async function pastBinding(
  store: Store,
  keyId: string,
  fingerprint: string,
): Promise<PastBinding | null> {
  const row = await store.read.bindingHistory.lastOn(keyId, fingerprint);
  if (row === undefined || row.unbound_at === null) return null;
  const moved = row.moved_to_name !== null;
  return {
    bound_at: row.bound_at,
    ended_at: row.unbound_at,
    ended_by: moved ? 'move' : 'unbind',
    moved_to: moved ? { name: row.moved_to_name ?? '', os: row.moved_to_os ?? '' } : null,
  };
}
