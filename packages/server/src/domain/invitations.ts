// Invitation links: an owner or admin adds someone to the organization, and the link lets that
// person set their first password, once. Nothing is stored for the link: it is a MAC over the
// person's id and its expiry, keyed by the server secret, and it stops working as soon as the
// person has a password, has ever signed in, or belongs nowhere (removed).
import { createHmac } from 'node:crypto';
import type { Role, UserRow } from '../store/queries/accounts.js';
import type { Store } from '../store/store.js';
import { digestsEqual, type Secrets } from './digest.js';
import { normalizeEmail } from './emails.js';
import { ensureUser } from './keys.js';
import type { Actor } from './managed-keys.js';
import { hashPassword, type ScryptCost } from './passwords.js';

/** An invitation link works for a week. */
export const INVITE_TTL_MS = 7 * 24 * 3_600_000;

/** The link's query: /invite?user=…&expires=…&token=… */
export interface InviteLink {
  readonly user: string;
  readonly expires: string;
  readonly token: string;
}

function mac(secret: Buffer, user: string, expires: string): string {
  return createHmac('sha256', secret).update(`sekuire.invite.v1\n${user}\n${expires}`).digest('base64url');
}

export type InviteOutcome =
  | { readonly ok: true; readonly kind: 'invited'; readonly user: UserRow; readonly link: InviteLink }
  /** They have a password already: added to the organization, nothing to send. */
  | { readonly ok: true; readonly kind: 'added'; readonly user: UserRow }
  | { readonly ok: false; readonly reason: 'not_allowed' | 'owners_only' | 'already_member' };

export function invite(
  store: Store,
  secret: Buffer,
  actor: Actor,
  orgId: string,
  input: { readonly email: string; readonly role: Role },
): Promise<InviteOutcome> {
  const at = actor.now.toISOString();
  return store.transaction(async (tx): Promise<InviteOutcome> => {
    const mine = (await tx.accounts.memberships(actor.user.id)).find((org) => org.id === orgId);
    if (mine === undefined || mine.role === 'member') return { ok: false, reason: 'not_allowed' };
    if (input.role === 'owner' && mine.role !== 'owner') return { ok: false, reason: 'owners_only' };
    const existing = await tx.accounts.userByEmail(normalizeEmail(input.email));
    if (existing !== undefined && (await tx.members.member(orgId, existing.id)) !== undefined)
      return { ok: false, reason: 'already_member' };
    const user = existing ?? (await ensureUser(tx, input.email, undefined, at));
    await tx.accounts.ensureMembership(user.id, orgId, input.role, at);
    const state = await tx.members.inviteState(user.id);
    const needsLink = state !== undefined && Number(state.has_password) === 0;
    await tx.audit.record({
      at,
      event: 'user_invite',
      client_ip: actor.clientIp,
      actor_user_id: actor.user.id,
      detail: {
        user_id: user.id,
        email: user.email,
        organization_id: orgId,
        role: input.role,
        link: needsLink,
      },
    });
    if (!needsLink) return { ok: true, kind: 'added', user };
    const expires = new Date(actor.now.getTime() + INVITE_TTL_MS).toISOString();
    return {
      ok: true,
      kind: 'invited',
      user,
      link: { user: user.id, expires, token: mac(secret, user.id, expires) },
    };
  });
}

/** The person an invitation link names, while it works; undefined for any link that does not. */
export async function invitedUser(
  store: Store,
  secrets: Secrets,
  link: Partial<InviteLink>,
  now: Date,
): Promise<{ readonly id: string; readonly email: string } | undefined> {
  const { user, expires, token } = link;
  if (typeof user !== 'string' || typeof expires !== 'string' || typeof token !== 'string') return undefined;
  if (user.length > 64 || token.length > 64 || !(Date.parse(expires) > now.getTime())) return undefined;
  const given = Buffer.from(token, 'base64url');
  if (!secrets.some((secret) => digestsEqual(Buffer.from(mac(secret, user, expires), 'base64url'), given)))
    return undefined;
  const state = await store.read.members.inviteState(user);
  if (state === undefined || Number(state.has_password) === 1 || state.last_login_at !== null)
    return undefined;
  if ((await store.read.accounts.memberships(user)).length === 0) return undefined;
  return { id: state.id, email: state.email };
}

/** Sets the first password through a working link; false when the link does not work (any more). */
export async function acceptInvite(
  store: Store,
  secrets: Secrets,
  link: Partial<InviteLink>,
  password: string,
  clientIp: string,
  now: Date,
  cost?: ScryptCost,
): Promise<boolean> {
  const user = await invitedUser(store, secrets, link, now);
  if (user === undefined) return false;
  const hash = await hashPassword(password, cost);
  return store.transaction(async (tx) => {
    if (!(await tx.members.setFirstPassword(user.id, hash))) return false;
    await tx.audit.record({
      at: now.toISOString(),
      event: 'password_set',
      client_ip: clientIp,
      actor_user_id: user.id,
      detail: { email: user.email, invitation: true },
    });
    return true;
  });
}
