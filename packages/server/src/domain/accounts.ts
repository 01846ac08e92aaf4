// People: create a user (or set the password of one), with an organization and a role.
import type { NamedRow, Role, UserRow } from '../store/queries/accounts.js';
import type { Store, Tx } from '../store/store.js';
import { normalizeEmail } from './emails.js';
import { ensureUser, namedOrganization, personalOrganization } from './keys.js';
import { hashPassword, type ScryptCost } from './passwords.js';

export interface CreateUserInput {
  readonly email: string;
  readonly name?: string;
  /**
   * An organization by name (created if new); without it, a new user's own (someone who exists
   * keeps their memberships as they are).
   */
  readonly organization?: string;
  /** The role in that organization; default: owner of a new one, member of an existing one. */
  readonly role?: Role;
  /** Checked by the caller (passwordProblem); hashed here. */
  readonly password?: string;
}

export interface CreatedUser {
  readonly user: UserRow;
  readonly organization: NamedRow;
  readonly role: Role;
  /** False when the email already existed (its name, password or role may have changed). */
  readonly created: boolean;
  readonly passwordSet: boolean;
  /** Sessions (dashboard and API) a new password ended: the old password's sign-ins. */
  readonly sessionsEnded: number;
}

/** The organization to name for someone: their own if they have one, else the first they joined. */
async function mainMembership(
  tx: Tx,
  user: UserRow,
): Promise<{ organization: NamedRow; role: Role } | undefined> {
  const memberships = await tx.accounts.memberships(user.id);
  const own = await tx.accounts.personalOrganization(user.id);
  const main = memberships.find((membership) => membership.id === own?.id) ?? memberships[0];
  return main === undefined ? undefined : { organization: { id: main.id, name: main.name }, role: main.role };
}

export async function createUser(
  store: Store,
  input: CreateUserInput,
  now: Date,
  cost?: ScryptCost,
): Promise<CreatedUser> {
  const at = now.toISOString();
  // Hashing takes a while: outside the transaction, which holds the write lock.
  const hash = input.password === undefined ? undefined : await hashPassword(input.password, cost);
  return store.transaction(async (tx) => {
    const existed = (await tx.accounts.userByEmail(normalizeEmail(input.email))) !== undefined;
    const user = await ensureUser(tx, input.email, input.name, at);
    let organization: NamedRow;
    let role: Role;
    const kept = input.organization === undefined && existed ? await mainMembership(tx, user) : undefined;
    if (kept !== undefined) {
      // A new password (or name) for someone who belongs somewhere: memberships stay as they are.
      ({ organization, role } = kept);
    } else if (input.organization === undefined) {
      organization = await personalOrganization(tx, user, at);
      role = 'owner';
    } else {
      ({ organization, role } = await namedOrganization(tx, user, input.organization, at));
      if (input.role !== undefined && input.role !== role) {
        await tx.accounts.setRole(user.id, organization.id, input.role);
        role = input.role;
      }
    }
    let sessionsEnded = 0;
    if (hash !== undefined) {
      await tx.accounts.setPassword(user.id, hash);
      // A new password is how an operator shuts out whoever learnt the old one: the cookies and
      // tokens signed in with it (a refresh token lives 30 days) must stop working with it.
      sessionsEnded = await tx.sessions.endSessionsOf(user.id, at, 'password_set');
    }
    await tx.audit.record({
      at,
      event: !existed ? 'user_create' : hash !== undefined ? 'password_set' : 'user_update',
      actor_user_id: user.id,
      detail: {
        email: user.email,
        organization_id: organization.id,
        role,
        password_set: hash !== undefined,
        ...(hash !== undefined && existed && { sessions_ended: sessionsEnded }),
      },
    });
    return { user, organization, role, created: !existed, passwordSet: hash !== undefined, sessionsEnded };
  });
}
