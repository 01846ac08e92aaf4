// A stored login whose binding was moved or unbound since: exit 12, saying what happened and when.
import type { PastBinding } from './answers.js';
import type { LoadedCredentials } from './credentials.js';
import { DeviceMismatchError } from './errors.js';
import { loginCommandFor } from './profiles.js';

/**
 * auth.json is written only by a login, which binds the key to this device: when the backend
 * says the key is bound to no device, that binding was moved away or unbound since, and the
 * login is stale (PROTOCOL.md, status's `past_binding`). Only a new login makes it live: into
 * the same profile, so the hint names a profile that is not `default`.
 */
export function staleLogin(
  stored: LoadedCredentials,
  past: PastBinding | null,
  profile?: string,
): DeviceMismatchError {
  const when = (at: string) => at.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
  const what =
    past === null
      ? `the key was bound to this device when you logged in${stored.credentials.verified_at ? ` (${when(stored.credentials.verified_at)})` : ''}, and is bound to no device now`
      : past.ended_by === 'move'
        ? `the key was moved from this device to ${past.moved_to?.name || 'another device'}${past.moved_to?.os ? ` (${past.moved_to.os})` : ''} at ${when(past.ended_at)}, and is bound to no device now`
        : `this device's binding of the key was removed at ${when(past.ended_at)} (a logout elsewhere, or an administrator), and the key is bound to no device now`;
  return new DeviceMismatchError(`The stored login in ${stored.path} is stale: ${what}.`, 'login_stale', {
    // A named profile's login is replaced by a login into that profile, not into `default`.
    hint: `Run '${loginCommandFor(profile)}' to bind the key to this device again`,
    details: {
      path: stored.path,
      past_binding: past,
      ...(profile !== undefined && profile !== 'default' && { profile }),
    },
  });
}
