// The Members tab (owners and admins): the organization's people, their roles, and removing them.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isEmailAddress } from '../../domain/emails.js';
import { acceptInvite, type InviteLink, invite, invitedUser } from '../../domain/invitations.js';
import {
  changeRole,
  type MemberChangeRefused,
  managedOrganization,
  membersOf,
  type RemovalRefused,
  removeMember,
} from '../../domain/members.js';
import { passwordProblem } from '../../domain/passwords.js';
import type { MembershipRow } from '../../store/queries/accounts.js';
import { ROLES } from '../../store/queries/accounts.js';
import { ApiError } from '../api-error.js';
import { webOrigin } from '../responses.js';
import { type WebDeps, type Who, who } from '../session-auth.js';
import type { PageKit } from './approval-pages.js';
import { form } from './forms.js';
import { pageRoutes } from './routes.js';

export const MEMBERS_TAB = '/dashboard/settings?tab=members';
const MANAGES = 'sekuireManages';

/** The organization whose members the signed-in person manages, found once per page request. */
export function managedBy(request: FastifyRequest): MembershipRow | undefined {
  return request.getDecorator<MembershipRow | undefined>(MANAGES);
}

function notManaging(): ApiError {
  return new ApiError('forbidden', 'Only owners and admins of an organization see its members.');
}

function noSuchMember(): ApiError {
  return new ApiError('not_found', 'There is no such member (or not in an organization you manage).');
}

/** A refusal in the words of the page, and its status. */
function refusalText(outcome: MemberChangeRefused | RemovalRefused): [number, string] {
  switch (outcome.reason) {
    case 'not_found':
      throw noSuchMember();
    case 'yourself':
      return [409, 'You cannot change or remove yourself here: ask another owner or admin.'];
    case 'owners_only':
      return [403, 'Only an owner can make someone an owner, or change or remove an owner.'];
    case 'last_owner':
      return [
        409,
        `${outcome.organization.name} needs an owner: make someone else owner first, then change or remove this one.`,
      ];
    case 'not_a_member':
    case 'same_person':
      return [409, 'The keys cannot be transferred that way.'];
  }
}

export interface MembersPages {
  render(
    request: FastifyRequest,
    reply: FastifyReply,
    signedIn: Who,
    extra?: { notice?: string; formError?: string; invited?: { email: string; url: string } },
    status?: number,
  ): Promise<unknown>;
}

export function registerMembersPages(app: FastifyInstance, deps: WebDeps, kit: PageKit): MembersPages {
  app.decorateRequest(MANAGES, undefined);
  // Every page's tabs show Members to owners and admins only: one membership lookup per page.
  app.addHook('preHandler', async (request) => {
    const signedIn = request.routeOptions.config.page === undefined ? null : who(request);
    if (signedIn === null) return;
    request.setDecorator(MANAGES, await managedOrganization(deps.store, signedIn.user.id));
  });

  const pages = pageRoutes(app);
  const render: MembersPages['render'] = async (request, reply, _signedIn, extra = {}, status = 200) => {
    const organization = managedBy(request);
    if (organization === undefined) throw notManaging();
    const members = await membersOf(deps.store, organization.id);
    return reply.code(status).view(
      'members.eta',
      kit.page(request, reply, 'Members', {
        tab: 'members',
        organization,
        myRole: organization.role,
        members,
        roleChoices: organization.role === 'owner' ? ROLES : ROLES.filter((role) => role !== 'owner'),
        ...extra,
      }),
    );
  };

  const target = async (request: FastifyRequest) => {
    const organization = managedBy(request);
    if (organization === undefined) throw notManaging();
    const id = (request.params as { id: string }).id;
    const member = (await membersOf(deps.store, organization.id)).find((row) => row.id === id);
    if (member === undefined) throw noSuchMember();
    return { organization, member };
  };

  pages.get('/dashboard/members/:id/remove', 'signed-in', async (request, reply, signedIn) => {
    const { organization, member } = await target(request);
    const [keyCount, theirs] = await Promise.all([
      deps.store.read.members.workingKeys(member.id, organization.id),
      deps.store.read.accounts.memberships(member.id),
    ]);
    if (member.id === signedIn.user.id || (member.role === 'owner' && organization.role !== 'owner')) {
      const [status, formError] = refusalText({
        ok: false,
        reason: member.id === signedIn.user.id ? 'yourself' : 'owners_only',
      });
      return render(request, reply, signedIn, { formError }, status);
    }
    return reply.view(
      'remove-member.eta',
      kit.page(request, reply, 'Remove member', {
        tab: 'members',
        organization,
        member,
        keyCount: keyCount.length,
        onlyHere: theirs.length === 1,
      }),
    );
  });

  pages.post('/dashboard/members/:id/remove', 'signed-in', async (request, reply, signedIn) => {
    const { organization, member } = await target(request);
    const keys = form(request).keys;
    if (keys !== 'revoke' && keys !== 'transfer') {
      return render(
        request,
        reply,
        signedIn,
        { formError: 'Choose what happens to their keys: revoke them or transfer them to you.' },
        400,
      );
    }
    const outcome = await removeMember(
      deps.store,
      kit.actor(signedIn, request),
      organization.id,
      member.id,
      keys,
    );
    if (!outcome.ok) {
      const [status, formError] = refusalText(outcome);
      return render(request, reply, signedIn, { formError }, status);
    }
    return reply.redirect(`${MEMBERS_TAB}&done=removed`, 303);
  });

  pages.post('/dashboard/members/:id/role', 'signed-in', async (request, reply, signedIn) => {
    const { organization, member } = await target(request);
    const role = ROLES.find((candidate) => candidate === form(request).role);
    if (role === undefined) {
      return render(
        request,
        reply,
        signedIn,
        { formError: 'Choose the role from the list: owner, admin or member.' },
        400,
      );
    }
    const outcome = await changeRole(
      deps.store,
      kit.actor(signedIn, request),
      organization.id,
      member.id,
      role,
    );
    if (!outcome.ok) {
      const [status, formError] = refusalText(outcome);
      return render(request, reply, signedIn, { formError }, status);
    }
    return reply.redirect(`${MEMBERS_TAB}&done=role`, 303);
  });

  pages.post('/dashboard/members/invite', 'signed-in', async (request, reply, signedIn) => {
    const organization = managedBy(request);
    if (organization === undefined) throw notManaging();
    const fields = form(request);
    const role = ROLES.find((candidate) => candidate === fields.role);
    const email = (fields.email ?? '').trim();
    if (!isEmailAddress(email)) {
      return render(
        request,
        reply,
        signedIn,
        { formError: 'Enter the email address of the person to invite.' },
        400,
      );
    }
    if (role === undefined) {
      return render(
        request,
        reply,
        signedIn,
        { formError: 'Choose the role from the list: owner, admin or member.' },
        400,
      );
    }
    const outcome = await invite(deps.store, deps.secret, kit.actor(signedIn, request), organization.id, {
      email,
      role,
    });
    if (!outcome.ok) {
      const [status, formError]: [number, string] =
        outcome.reason === 'already_member'
          ? [409, `${email} is already a member of ${organization.name}.`]
          : outcome.reason === 'owners_only'
            ? [403, 'Only an owner can make someone an owner, or change or remove an owner.']
            : [403, 'Only owners and admins of an organization see its members.'];
      return render(request, reply, signedIn, { formError }, status);
    }
    if (outcome.kind === 'added') {
      return render(request, reply, signedIn, {
        notice: `${outcome.user.email} already has an account: added to ${organization.name} as ${role}. They sign in as usual.`,
      });
    }
    const query = new URLSearchParams({ ...outcome.link }).toString();
    return render(request, reply, signedIn, {
      notice: `${outcome.user.email} was added to ${organization.name} as ${role}.`,
      invited: { email: outcome.user.email, url: `${webOrigin(request)}/invite?${query}` },
    });
  });

  /** The link's three fields, from the query (the link) or the form (the page's hidden fields). */
  const linkOf = (fields: Record<string, string | undefined>): Partial<InviteLink> => ({
    ...(fields.user !== undefined && { user: fields.user }),
    ...(fields.expires !== undefined && { expires: fields.expires }),
    ...(fields.token !== undefined && { token: fields.token }),
  });
  const deadLink = () =>
    new ApiError(
      'not_found',
      'This invitation link does not work: it was used already, it expired (after 7 days), or it is not complete. Ask whoever invited you for a new one.',
    );

  pages.get('/invite', 'public', async (request, reply) => {
    const link = linkOf(request.query as Record<string, string | undefined>);
    const user = await invitedUser(deps.store, deps.secrets, link, deps.now());
    if (user === undefined) throw deadLink();
    return reply.view(
      'invite.eta',
      kit.page(request, reply, 'Set your password', { step: 'form', email: user.email, link }),
    );
  });

  pages.post('/invite', 'public', async (request, reply) => {
    const fields = form(request);
    const link = linkOf(fields);
    const user = await invitedUser(deps.store, deps.secrets, link, deps.now());
    if (user === undefined) throw deadLink();
    const password = fields.password ?? '';
    const again = (error: string) =>
      reply
        .code(400)
        .view(
          'invite.eta',
          kit.page(request, reply, 'Set your password', { step: 'form', email: user.email, link, error }),
        );
    const problem = passwordProblem(password);
    if (problem !== undefined) return again(problem);
    if (password !== fields.again) return again('The two passwords differ: type the same one twice.');
    const set = await acceptInvite(
      deps.store,
      deps.secrets,
      link,
      password,
      request.ip,
      deps.now(),
      deps.passwordCost,
    );
    if (!set) throw deadLink();
    return reply.view(
      'invite.eta',
      kit.page(request, reply, 'Password set', { step: 'done', email: user.email }),
    );
  });

  return { render };
}
