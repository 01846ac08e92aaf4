// `remove-user`: someone leaves. Their sessions end at once, their keys are revoked or taken
// over, their sign-in looks like a wrong password, and an organization keeps an owner.
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { forEachEngine } from '../helpers/engines.js';
import { runServer } from '../helpers/server-commands.js';
import { formSession } from './form-session.js';
import { FP_A, type Harness, harness, PASSWORD } from './harness.js';

/** A page as a person sees it, without the per-request CSRF token. */
function shown(response: LightMyRequestResponse): string {
  return response.body.replace(/name="_csrf" value="[^"]+"/g, '');
}

forEachEngine((engine) => {
  let h: Harness;
  let bobId: string;
  beforeEach(async () => {
    h = await harness({ engine });
    await h.createUser({ email: 'ada@example.com', organization: 'Acme', role: 'owner' });
    bobId = (await h.createUser({ email: 'bob@example.com', organization: 'Acme', role: 'member' })).user.id;
  });
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  const removeUser = (...args: string[]) => runServer(['remove-user', '--db', h.target, ...args]);
  const apiSignIn = (email: string, password = PASSWORD) =>
    h.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });

  it('ends every session at once, revokes the keys, and the sign-in then reads as a wrong password', async () => {
    const key = await h.createKey({ email: 'bob@example.com', organization: 'Acme' });
    expect((await h.login(key.apiKey.value, FP_A)).statusCode).toBe(200);
    const browser = formSession(h);
    expect((await browser.signIn('bob@example.com')).statusCode).toBe(303);
    const token = (await apiSignIn('bob@example.com')).json().access_token as string;

    const run = await removeUser('--email', 'bob@example.com');
    expect(run).toEqual({
      code: 0,
      stdout: 'Removed bob@example.com: 2 sessions ended, 1 key revoked\n',
      stderr: '',
    });

    const page = await browser.get('/dashboard/settings?tab=api-keys');
    expect([page.statusCode, page.headers.location]).toEqual([
      303,
      `/login?next=${encodeURIComponent('/dashboard/settings?tab=api-keys')}`,
    ]);
    const me = await h.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${token}` },
    });
    expect([me.statusCode, me.json().error]).toEqual([401, 'invalid_token']);
    const status = await h.get('/api/v1/cli/status', key.apiKey.value, FP_A);
    expect([status.statusCode, status.json().error]).toEqual([401, 'key_revoked']);

    // Nothing tells a removed person apart from a wrong password, on the page or the API.
    const removed = await formSession(h).signIn('bob@example.com');
    const wrong = await formSession(h).signIn('ada@example.com', 'not the password');
    expect(removed.statusCode).toBe(401);
    expect(wrong.statusCode).toBe(401);
    expect(shown(removed).replace('bob@example.com', 'EMAIL')).toBe(
      shown(wrong).replace('ada@example.com', 'EMAIL'),
    );
    const removedApi = await apiSignIn('bob@example.com');
    const wrongApi = await apiSignIn('ada@example.com', 'not the password');
    expect([removedApi.statusCode, removedApi.json()]).toEqual([wrongApi.statusCode, wrongApi.json()]);

    const audit = await runServer(['audit', '--db', h.target, '--json']);
    const events = JSON.parse(audit.stdout) as {
      event: string;
      key_id: string | null;
      detail: Record<string, unknown>;
    }[];
    expect(
      events.filter((event) => event.event === 'revoke').map((event) => [event.key_id, event.detail.reason]),
    ).toEqual([[key.key.id, 'user_removed']]);
    const removal = events.find((event) => event.event === 'user_remove');
    expect(removal?.detail).toMatchObject({
      email: 'bob@example.com',
      keys: 'revoke',
      keys_affected: 1,
      sessions_ended: 2,
    });
  });

  it('--keys transfer-to=EMAIL: the keys keep working and belong to the one who stays', async () => {
    const key = await h.createKey({ email: 'bob@example.com', organization: 'Acme' });
    expect((await h.login(key.apiKey.value, FP_A)).statusCode).toBe(200);
    const run = await removeUser(
      '--email',
      'bob@example.com',
      '--keys',
      'transfer-to=ada@example.com',
      '--json',
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      user: { id: bobId, email: 'bob@example.com', name: 'bob' },
      keys_revoked: 0,
      keys_transferred: 1,
      transferred_to: 'ada@example.com',
      sessions_ended: 0,
    });
    expect((await h.get('/api/v1/cli/status', key.apiKey.value, FP_A)).statusCode).toBe(200);
    const token = (await apiSignIn('ada@example.com')).json().access_token as string;
    const listed = await h.inject({
      method: 'GET',
      url: `/api/v1/keys/${key.key.id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(listed.json().created_by.email).toBe('ada@example.com');
  });

  it('refuses what would leave an organization without an owner or keys with someone outside it', async () => {
    expect(await removeUser('--email', 'ada@example.com')).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: ada@example.com is the only owner of "Acme": make someone else its owner first (create-user --org "Acme" --role owner).\n',
    });
    await h.createUser({ email: 'eve@example.com' });
    await h.createKey({ email: 'bob@example.com', organization: 'Acme' });
    expect(await removeUser('--email', 'bob@example.com', '--keys', 'transfer-to=eve@example.com')).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: eve@example.com is not in the organization "Acme", where some of the keys are: add them with create-user --org, or revoke the keys.\n',
    });
    expect(await removeUser('--email', 'nobody@example.com')).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: No user nobody@example.com in ${h.target}.\n`,
    });
    expect(await removeUser('--email', 'bob@example.com', '--keys', 'keep')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: --keys must be revoke or transfer-to=EMAIL, not "keep".\n',
    });
    // Nothing was removed by the refusals: bob still signs in.
    expect((await apiSignIn('bob@example.com')).statusCode).toBe(200);
  });
});
