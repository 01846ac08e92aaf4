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
});
