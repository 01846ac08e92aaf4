// People who leave, and the roles of those who stay: the Members tab and `remove-user`.
// Removing someone ends every session of theirs (sessions are checked in the database on each
// request, so on every instance at once) and revokes the keys they created unless someone
// takes them over; every organization keeps an owner.
import type { MembershipRow, NamedRow, Role, UserRow } from '../store/queries/accounts.js';
import type { MemberRow } from '../store/queries/members.js';
import type { Store, Tx } from '../store/store.js';
import { normalizeEmail } from './emails.js';
import type { Actor } from './managed-keys.js';

/** What happens to the keys a departing person created. */
export type KeysOnRemoval = { readonly kind: 'revoke' } | { readonly kind: 'transfer'; readonly to: UserRow };

export interface RemovalDone {
  readonly ok: true;
  readonly user: UserRow;
  readonly keysRevoked: number;
  readonly keysTransferred: number;
  readonly sessionsEnded: number;
  /** True when the person belongs nowhere now: their password is gone too. */
  readonly signInRemoved: boolean;
}

export type RemovalRefused =
  | { readonly ok: false; readonly reason: 'not_found' }
  /** They are the only owner of an organization that has other people in it. */
  | { readonly ok: false; readonly reason: 'last_owner'; readonly organization: NamedRow }
  /** Whoever takes the keys over is not in an organization the keys belong to. */
  | { readonly ok: false; readonly reason: 'not_a_member'; readonly organization: NamedRow }
  | { readonly ok: false; readonly reason: 'same_person' };

export type RemovalOutcome = RemovalDone | RemovalRefused;

/** `remove-user` has no acting person; the dashboard's is the signed-in owner or admin. */
interface Removal {
  readonly userId: string;
  /** One organization (the Members tab), or all of the person's (remove-user). */
  readonly organizations: readonly MembershipRow[];
  readonly keys: KeysOnRemoval;
  readonly at: string;
  readonly actor: Actor | undefined;
}

async function lastOwnerOf(tx: Tx, memberships: readonly MembershipRow[]) {
  for (const membership of memberships) {
    if (membership.role !== 'owner') continue;
    const owners = await tx.members.owners(membership.id);
    const people = await tx.members.count(membership.id);
    if (owners === 1 && people > 1) return { id: membership.id, name: membership.name };
  }
  return undefined;
}

async function remove(tx: Tx, removal: Removal): Promise<RemovalOutcome> {
  const user = (await tx.accounts.profile(removal.userId)) as UserRow;
  const lastOwner = await lastOwnerOf(tx, removal.organizations);
  if (lastOwner !== undefined) return { ok: false, reason: 'last_owner', organization: lastOwner };
  // remove-user: every key the person created; the Members tab: those of its organization.
  const keys =
    removal.actor === undefined
      ? await tx.members.workingKeys(removal.userId, null)
      : (
          await Promise.all(
            removal.organizations.map((org) => tx.members.workingKeys(removal.userId, org.id)),
          )
        ).flat();
  if (removal.keys.kind === 'transfer') {
    const to = removal.keys.to;
    if (to.id === removal.userId) return { ok: false, reason: 'same_person' };
    const theirs = new Set((await tx.accounts.memberships(to.id)).map((org) => org.id));
    for (const key of keys) {
      if (!theirs.has(key.org_id)) {
        const organization = (await tx.accounts.organization(key.org_id)) as NamedRow;
        return { ok: false, reason: 'not_a_member', organization };
      }
    }
  }
  const common = {
    at: removal.at,
    client_ip: removal.actor?.clientIp ?? null,
    actor_user_id: removal.actor?.user.id ?? null,
  };
  for (const key of keys) {
    if (removal.keys.kind === 'revoke') {
      await tx.keys.revoke(key.id, removal.at);
      await tx.audit.record({
        ...common,
        event: 'revoke',
        key_id: key.id,
        detail: { masked: key.masked, reason: 'user_removed', user_id: removal.userId },
      });
    } else {
      await tx.members.transferKey(key.id, removal.keys.to.id);
      await tx.audit.record({
        ...common,
        event: 'key_transfer',
        key_id: key.id,
        detail: { masked: key.masked, from_user_id: removal.userId, to_user_id: removal.keys.to.id },
      });
    }
  }
  for (const org of removal.organizations) await tx.members.remove(org.id, removal.userId);
  const left = await tx.accounts.memberships(removal.userId);
  const signInRemoved = left.length === 0;
  // Belonging nowhere, the person has nothing to sign in to: the password goes, and a sign-in
  // with it is refused as a wrong password is (the same answer, the same hash time).
  if (signInRemoved) await tx.members.clearPassword(removal.userId);
  const sessionsEnded = await tx.sessions.endSessionsOf(removal.userId, removal.at, 'removed');
  await tx.audit.record({
    ...common,
    event: removal.actor === undefined ? 'user_remove' : 'member_remove',
    detail: {
      user_id: removal.userId,
      email: user.email,
      organizations: removal.organizations.map((org) => org.id),
      keys: removal.keys.kind,
      ...(removal.keys.kind === 'transfer' && { transferred_to: removal.keys.to.id }),
      keys_affected: keys.length,
      sessions_ended: sessionsEnded,
      sign_in_removed: signInRemoved,
    },
  });
  return {
    ok: true,
    user: { id: user.id, email: user.email, name: user.name },
    keysRevoked: removal.keys.kind === 'revoke' ? keys.length : 0,
    keysTransferred: removal.keys.kind === 'transfer' ? keys.length : 0,
    sessionsEnded,
    signInRemoved,
  };
}

/**
 * `remove-user`: the person leaves every organization; their keys are revoked, or transferred
 * to `transferTo` (an email), who must belong to each organization the keys are in.
 */
export function removeUser(
  store: Store,
  input: { readonly email: string; readonly transferTo?: string; readonly now: Date },
  onUnconfirmed?: (servers: readonly string[]) => void,
): Promise<RemovalOutcome | { readonly ok: false; readonly reason: 'no_such_receiver' }> {
  return store.transaction(
    async (tx) => {
      const user = await tx.accounts.userByEmail(normalizeEmail(input.email));
      if (user === undefined) return { ok: false as const, reason: 'not_found' as const };
      let keys: KeysOnRemoval = { kind: 'revoke' };
      if (input.transferTo !== undefined) {
        const to = await tx.accounts.userByEmail(normalizeEmail(input.transferTo));
        if (to === undefined) return { ok: false as const, reason: 'no_such_receiver' as const };
        keys = { kind: 'transfer', to };
      }
      const organizations = await tx.accounts.memberships(user.id);
      // Someone who belongs nowhere still has keys and sessions to end: treat them the same.
      return remove(tx, {
        userId: user.id,
        organizations,
        keys,
        at: input.now.toISOString(),
        actor: undefined,
      });
    },
    { invalidates: true, ...(onUnconfirmed && { onUnconfirmed }) },
  );
}

/** The organization whose Members tab the actor sees: their first one where they are owner or admin. */
export async function managedOrganization(store: Store, userId: string): Promise<MembershipRow | undefined> {
  return (await store.read.accounts.memberships(userId)).find((org) => org.role !== 'member');
}

export function membersOf(store: Store, orgId: string): Promise<MemberRow[]> {
  return store.read.members.list(orgId);
}

export type MemberChangeRefused =
  | { readonly ok: false; readonly reason: 'not_found' }
  | { readonly ok: false; readonly reason: 'yourself' }
  /** Only owners make owners, or change or remove one. */
  | { readonly ok: false; readonly reason: 'owners_only' }
  | { readonly ok: false; readonly reason: 'last_owner'; readonly organization: NamedRow };

/** Who may act on whom: owners on anyone, admins on admins and members; nobody on themselves. */
async function allowed(
  tx: Tx,
  actor: Actor,
  orgId: string,
  userId: string,
): Promise<{ ok: true; actorRole: Role; target: MemberRow; org: NamedRow } | MemberChangeRefused> {
  const mine = (await tx.accounts.memberships(actor.user.id)).find((org) => org.id === orgId);
  if (mine === undefined || mine.role === 'member') return { ok: false, reason: 'not_found' };
  const target = await tx.members.member(orgId, userId);
  if (target === undefined) return { ok: false, reason: 'not_found' };
  if (target.id === actor.user.id) return { ok: false, reason: 'yourself' };
  if (target.role === 'owner' && mine.role !== 'owner') return { ok: false, reason: 'owners_only' };
  return { ok: true, actorRole: mine.role, target, org: { id: mine.id, name: mine.name } };
}

export function changeRole(
  store: Store,
  actor: Actor,
  orgId: string,
  userId: string,
  role: Role,
): Promise<{ readonly ok: true; readonly member: MemberRow; readonly from: Role } | MemberChangeRefused> {
  return store.transaction(async (tx) => {
    const check = await allowed(tx, actor, orgId, userId);
    if (!check.ok) return check;
    if (role === 'owner' && check.actorRole !== 'owner') return { ok: false, reason: 'owners_only' };
    const from = check.target.role;
    if (from === role) return { ok: true, member: check.target, from };
    if (from === 'owner' && (await tx.members.owners(orgId)) === 1)
      return { ok: false, reason: 'last_owner', organization: check.org };
    await tx.accounts.setRole(userId, orgId, role);
    await tx.audit.record({
      at: actor.now.toISOString(),
      event: 'role_change',
      client_ip: actor.clientIp,
      actor_user_id: actor.user.id,
      detail: { user_id: userId, email: check.target.email, organization_id: orgId, from, to: role },
    });
    return { ok: true, member: { ...check.target, role }, from };
  });
}

/**
 * The Members tab's Remove: out of this organization; the keys they created in it revoked or
 * taken over by the acting owner or admin. Someone left in no organization cannot sign in again.
 */
export function removeMember(
  store: Store,
  actor: Actor,
  orgId: string,
  userId: string,
  keys: 'revoke' | 'transfer',
): Promise<RemovalOutcome | MemberChangeRefused> {
  return store.transaction(
    async (tx) => {
      const check = await allowed(tx, actor, orgId, userId);
      if (!check.ok) return check;
      const membership: MembershipRow = { ...check.org, role: check.target.role };
      return remove(tx, {
        userId,
        organizations: [membership],
        keys: keys === 'revoke' ? { kind: 'revoke' } : { kind: 'transfer', to: actor.user },
        at: actor.now.toISOString(),
        actor,
      });
    },
    { invalidates: true },
  );
}
