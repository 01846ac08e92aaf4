// The Members tab: owners and admins list the organization's people, change roles and remove
// people (their sessions end, their keys are revoked or transferred); members do not see it.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { forEachEngine } from '../helpers/engines.js';
import { runServer } from '../helpers/server-commands.js';
import { type FormSession, formSession } from './form-session.js';
import { FP_A, type Harness, harness } from './harness.js';

const MEMBERS = '/dashboard/settings?tab=members';

function alert(body: string): string | undefined {
  return /<p class="alert alert-(?:error|success)" role="(?:alert|status)">([^<]*)<\/p>/.exec(body)?.[1];
}

/** The invitation link the page shows once, as a person would copy it. */
function inviteLink(body: string): URL {
  const shown = /id="invite-link" class="mono" readonly value="([^"]+)"/.exec(body)?.[1] ?? '';
  return new URL(shown.replaceAll('&amp;', '&'));
}

/** The rows of the table: email and role. */
function rows(body: string): string[][] {
  return [
    ...body.matchAll(
      /<div class="sub">([^<]+@[^<]+)<\/div><\/td>\s*<td data-label="Role"><span class="tag tag-(\w+)">/g,
    ),
  ].map((match) => [match[1] as string, match[2] as string]);
}

forEachEngine((engine) => {
  let h: Harness;
  let ids: Record<string, string>;
  const people: Record<string, FormSession> = {};
  beforeEach(async () => {
    h = await harness({ engine });
    ids = {};
    for (const [email, role] of [
      ['ada@example.com', 'owner'],
      ['bob@example.com', 'member'],
      ['carl@example.com', 'admin'],
    ] as const) {
      ids[email] = (await h.createUser({ email, organization: 'Acme', role })).user.id;
      people[email] = formSession(h);
      expect((await people[email].signIn(email)).statusCode).toBe(303);
    }
  });
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });
  const as = (email: string) => people[email] as FormSession;

  it('owners and admins see the tab and every member; a member sees neither', async () => {
    const page = await as('ada@example.com').get(MEMBERS);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<a href="/dashboard/settings?tab=members" aria-current="page">Members</a>');
    expect(rows(page.body)).toEqual([
      ['ada@example.com', 'owner'],
      ['carl@example.com', 'admin'],
      ['bob@example.com', 'member'],
    ]);
    expect((await as('carl@example.com').get(MEMBERS)).statusCode).toBe(200);
    const keys = await as('bob@example.com').get('/dashboard/settings?tab=api-keys');
    expect(keys.body).not.toContain('tab=members');
    const refused = await as('bob@example.com').get(MEMBERS);
    expect([refused.statusCode, /<p>([^<]*)<\/p>/.exec(refused.body)?.[1]]).toEqual([
      403,
      'Only owners and admins of an organization see its members.',
    ]);
  });

  it('changes a role (audited); admins cannot touch owners or make one; nobody changes themselves', async () => {
    await as('ada@example.com').get(MEMBERS);
    const changed = await as('ada@example.com').post(`/dashboard/members/${ids['bob@example.com']}/role`, {
      role: 'admin',
    });
    expect([changed.statusCode, changed.headers.location]).toEqual([303, `${MEMBERS}&done=role`]);
    const after = await as('ada@example.com').get(`${MEMBERS}&done=role`);
    expect([alert(after.body), rows(after.body)]).toEqual([
      'The role was changed.',
      [
        ['ada@example.com', 'owner'],
        ['bob@example.com', 'admin'],
        ['carl@example.com', 'admin'],
      ],
    ]);

    const carl = as('carl@example.com');
    const page = await carl.get(MEMBERS);
    expect(page.body).not.toContain(`aria-label="Remove ada@example.com"`);
    expect(page.body).toContain(`aria-label="Remove bob@example.com"`);
    expect(page.body).not.toContain('<option value="owner"');
    const cases: [string, string, number, string][] = [
      [
        'ada@example.com',
        'member',
        403,
        'Only an owner can make someone an owner, or change or remove an owner.',
      ],
      [
        'bob@example.com',
        'owner',
        403,
        'Only an owner can make someone an owner, or change or remove an owner.',
      ],
      [
        'carl@example.com',
        'owner',
        409,
        'You cannot change or remove yourself here: ask another owner or admin.',
      ],
      ['bob@example.com', 'king', 400, 'Choose the role from the list: owner, admin or member.'],
    ];
    for (const [email, role, status, message] of cases) {
      const refused = await carl.post(`/dashboard/members/${ids[email]}/role`, { role });
      expect([email, role, refused.statusCode, alert(refused.body)]).toEqual([email, role, status, message]);
    }
    const audit = JSON.parse((await runServer(['audit', '--db', h.target, '--json'])).stdout) as {
      event: string;
      actor_user_id: string;
      detail: Record<string, unknown>;
    }[];
    expect(
      audit
        .filter((event) => event.event === 'role_change')
        .map((event) => [event.actor_user_id, event.detail]),
    ).toEqual([
      [
        ids['ada@example.com'],
        {
          user_id: ids['bob@example.com'],
          email: 'bob@example.com',
          organization_id: expect.stringMatching(/^org_/),
          from: 'member',
          to: 'admin',
        },
      ],
    ]);
  });

  it("removing ends the person's sessions at once and transfers or revokes their keys, as chosen", async () => {
    const bobsKey = await h.createKey({ email: 'bob@example.com', organization: 'Acme' });
    expect((await h.login(bobsKey.apiKey.value, FP_A)).statusCode).toBe(200);
    const confirm = await as('ada@example.com').get(`/dashboard/members/${ids['bob@example.com']}/remove`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('The keys they created in Acme (1)');
    expect(confirm.body).toContain('and they can no longer sign in');
    const removed = await as('ada@example.com').post(`/dashboard/members/${ids['bob@example.com']}/remove`, {
      keys: 'transfer',
    });
    expect([removed.statusCode, removed.headers.location]).toEqual([303, `${MEMBERS}&done=removed`]);
    expect(rows((await as('ada@example.com').get(MEMBERS)).body).map(([email]) => email)).toEqual([
      'ada@example.com',
      'carl@example.com',
    ]);
    // Bob's browser is signed out on its next request; his key works, managed by Ada now.
    expect((await as('bob@example.com').get('/dashboard/settings?tab=api-keys')).statusCode).toBe(303);
    expect((await h.get('/api/v1/cli/status', bobsKey.apiKey.value, FP_A)).statusCode).toBe(200);
    const adasKeys = await as('ada@example.com').get('/dashboard/settings?tab=api-keys');
    expect(adasKeys.body).toContain(bobsKey.key.masked);
    expect((await formSession(h).signIn('bob@example.com')).statusCode).toBe(401);

    const carlsKey = await h.createKey({ email: 'carl@example.com', organization: 'Acme' });
    const revoked = await as('ada@example.com').post(`/dashboard/members/${ids['carl@example.com']}/remove`, {
      keys: 'revoke',
    });
    expect(revoked.statusCode).toBe(303);
    expect((await h.get('/api/v1/cli/status', carlsKey.apiKey.value, FP_A)).json().error).toBe('key_revoked');
    const missing = await as('ada@example.com').post(`/dashboard/members/${ids['carl@example.com']}/remove`, {
      keys: 'revoke',
    });
    expect(missing.statusCode).toBe(404);
  });

  it('an invitation link adds someone and sets their password once, within 7 days; it works for nobody else', async () => {
    const ada = as('ada@example.com');
    await ada.get(MEMBERS);
    const invited = await ada.post('/dashboard/members/invite', { email: 'Dan@Example.com', role: 'member' });
    expect([invited.statusCode, alert(invited.body)]).toEqual([
      200,
      'dan@example.com was added to Acme as member.',
    ]);
    const link = inviteLink(invited.body);
    expect(link.href).toMatch(/^http:\/\/localhost\/invite\?user=user_\w+&expires=[^&]+&token=[\w-]{43}$/);
    const path = `${link.pathname}${link.search}`;

    const dan = formSession(h);
    const page = await dan.get(path);
    expect([page.statusCode, /<h1>([^<]*)<\/h1>/.exec(page.body)?.[1]]).toEqual([200, 'Set your password']);
    expect(page.body).toContain('as <strong>dan@example.com</strong>');
    const fields = Object.fromEntries(link.searchParams);
    const refusals: [Record<string, string>, string][] = [
      [{ password: 'short', again: 'short' }, 'A password needs at least 10 characters.'],
      [
        { password: 'a long enough one', again: 'another long one' },
        'The two passwords differ: type the same one twice.',
      ],
    ];
    for (const [typed, message] of refusals) {
      const refused = await dan.post('/invite', { ...fields, ...typed });
      expect([refused.statusCode, alert(refused.body)]).toEqual([400, message]);
    }
    const tampered = await dan.post('/invite', {
      ...fields,
      token: 'A'.repeat(43),
      password: 'dans own password',
      again: 'dans own password',
    });
    expect(tampered.statusCode).toBe(404);
    const set = await dan.post('/invite', {
      ...fields,
      password: 'dans own password',
      again: 'dans own password',
    });
    expect([set.statusCode, /<h1>([^<]*)<\/h1>/.exec(set.body)?.[1]]).toEqual([200, 'Password set']);
    // Once: the same link, opened or sent again, does nothing.
    expect((await formSession(h).get(path)).statusCode).toBe(404);
    const again = await dan.post('/invite', {
      ...fields,
      password: 'someone elses one',
      again: 'someone elses one',
    });
    expect(again.statusCode).toBe(404);
    expect((await formSession(h).signIn('dan@example.com', 'dans own password')).statusCode).toBe(303);
    expect(rows((await ada.get(MEMBERS)).body)).toContainEqual(['dan@example.com', 'member']);

    // Removed before using it: the link dies with the membership.
    const gone = inviteLink(
      (await ada.post('/dashboard/members/invite', { email: 'fay@example.com', role: 'member' })).body,
    );
    const fay = /user=(user_\w+)/.exec(gone.search)?.[1] as string;
    await ada.get(`/dashboard/members/${fay}/remove`);
    expect((await ada.post(`/dashboard/members/${fay}/remove`, { keys: 'revoke' })).statusCode).toBe(303);
    expect((await formSession(h).get(`${gone.pathname}${gone.search}`)).statusCode).toBe(404);

    // A link expires after 7 days.
    const late = await ada.post('/dashboard/members/invite', { email: 'late@example.com', role: 'admin' });
    const lateLink = inviteLink(late.body);
    const latePath = `${lateLink.pathname}${lateLink.search}`;
    expect((await formSession(h).get(latePath)).statusCode).toBe(200);
    h.advance(7 * 24 * 3_600_000);
    expect((await formSession(h).get(latePath)).statusCode).toBe(404);
  });

  it('inviting someone with an account adds them without a link; a member twice, or an owner by an admin, is refused', async () => {
    await h.createUser({ email: 'eve@example.com' });
    const ada = as('ada@example.com');
    await ada.get(MEMBERS);
    const added = await ada.post('/dashboard/members/invite', { email: 'eve@example.com', role: 'admin' });
    expect([added.statusCode, alert(added.body), added.body.includes('invite-link')]).toEqual([
      200,
      'eve@example.com already has an account: added to Acme as admin. They sign in as usual.',
      false,
    ]);
    const twice = await ada.post('/dashboard/members/invite', { email: 'bob@example.com', role: 'member' });
    expect([twice.statusCode, alert(twice.body)]).toEqual([
      409,
      'bob@example.com is already a member of Acme.',
    ]);
    const bad = await ada.post('/dashboard/members/invite', { email: 'not an email', role: 'member' });
    expect([bad.statusCode, alert(bad.body)]).toEqual([
      400,
      'Enter the email address of the person to invite.',
    ]);
    const carl = as('carl@example.com');
    await carl.get(MEMBERS);
    const owner = await carl.post('/dashboard/members/invite', { email: 'new@example.com', role: 'owner' });
    expect([owner.statusCode, alert(owner.body)]).toEqual([
      403,
      'Only an owner can make someone an owner, or change or remove an owner.',
    ]);
    const audit = JSON.parse((await runServer(['audit', '--db', h.target, '--json'])).stdout) as {
      event: string;
      detail: Record<string, unknown>;
    }[];
    expect(
      audit
        .filter((event) => event.event === 'user_invite')
        .map((event) => [event.detail.email, event.detail.link]),
    ).toEqual([['eve@example.com', false]]);
  });
});
