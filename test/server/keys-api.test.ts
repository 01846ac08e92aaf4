// The keys and devices API: shown once, masked lists, the visibility rule (IDOR), CSRF, roll grace, last used.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forEachEngine } from '../helpers/engines.js';
import { FP_A, FP_B, type Harness, harness, PASSWORD } from './harness.js';

forEachEngine((engine) => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness({ engine });
  });
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  /** Signs in and returns a caller for the API with that person's access token. */
  async function as(email: string, org?: { organization: string; role: 'owner' | 'admin' | 'member' }) {
    await h.createUser({ email, ...org });
    const token = (
      await h.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: PASSWORD } })
    ).json().access_token as string;
    return (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
      h.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}` },
        ...(payload !== undefined && { payload }),
      });
  }

  describe('create, list, get', () => {
    it('the key appears in the creation answer only; lists and gets show it masked', async () => {
      const ada = await as('ada@example.com');
      const created = await ada('POST', '/api/v1/keys', {
        name: 'laptop',
        environment: 'live',
        expires_in_days: 30,
      });
      expect(created.statusCode).toBe(201);
      const body = created.json();
      expect(body).toEqual({
        id: expect.stringMatching(/^key_/),
        key: expect.stringMatching(/^sk_live_[0-9A-Za-z]{38}$/),
        masked: `${body.key.slice(0, 11)}...${body.key.slice(-3)}`,
        name: 'laptop',
        environment: 'live',
        type: 'client',
        permissions: [],
        status: 'active',
        created_at: h.now().toISOString(),
        expires_at: new Date(h.now().getTime() + 30 * 86_400_000).toISOString(),
        workspace: { id: expect.stringMatching(/^ws_/), name: 'Default' },
        organization: { id: expect.stringMatching(/^org_/), name: 'Personal (ada@example.com)' },
      });
      const list = await ada('GET', '/api/v1/keys');
      expect(list.statusCode).toBe(200);
      expect(list.body).not.toContain(body.key);
      expect(list.json().keys).toEqual([
        {
          id: body.id,
          name: 'laptop',
          masked: body.masked,
          environment: 'live',
          type: 'client',
          permissions: [],
          status: 'active',
          created_at: body.created_at,
          created_by: { id: expect.stringMatching(/^user_/), email: 'ada@example.com' },
          expires_at: body.expires_at,
          revoked_at: null,
          last_used_at: null,
          device: null,
          workspace: body.workspace,
          organization: body.organization,
        },
      ]);
      const one = await ada('GET', `/api/v1/keys/${body.id}`);
      expect(one.json()).toEqual(list.json().keys[0]);
      expect(one.body).not.toContain(body.key);
      const audit = JSON.stringify(await h.store.read.audit.list());
      expect(audit).not.toContain(body.key);
    });

    it('defaults: test, client, 90 days (null: never); bad input is 400 naming the field', async () => {
      const ada = await as('ada@example.com');
      const created = (await ada('POST', '/api/v1/keys', { name: 'x' })).json();
      // One default wherever a key is made: the dashboard's form, this API, a browser login.
      expect([created.environment, created.type, created.expires_at]).toEqual([
        'test',
        'client',
        new Date(h.now().getTime() + 90 * 86_400_000).toISOString(),
      ]);
      const never = (await ada('POST', '/api/v1/keys', { name: 'y', expires_in_days: null })).json();
      expect(never.expires_at).toBeNull();
      const cases: [object, string][] = [
        [{}, 'name'],
        [{ name: '  ' }, 'name'],
        [{ name: 'x'.repeat(201) }, 'name'],
        [{ name: 'x', environment: 'prod' }, 'environment'],
        [{ name: 'x', type: 'admin' }, 'type'],
        [{ name: 'x', expires_in_days: 0 }, 'expires_in_days'],
        [{ name: 'x', expires_in_days: 3651 }, 'expires_in_days'],
        [{ name: 'x', expires_in_days: 1.5 }, 'expires_in_days'],
        [{ name: 'x', workspace_id: 7 }, 'workspace_id'],
        [{ name: 'x', permissions: 'verify' }, 'permissions'],
        [{ name: 'x', permissions: ['Deploy'] }, 'permissions'],
        [{ name: 'x', permissions: [''] }, 'permissions'],
        [{ name: 'x', permissions: [7] }, 'permissions'],
        [{ name: 'x', permissions: [`a${'b'.repeat(64)}`] }, 'permissions'],
        [{ name: 'x', permissions: Array.from({ length: 33 }, (_, i) => `p${i}`) }, 'permissions'],
      ];
      for (const [payload, field] of cases) {
        const response = await ada('POST', '/api/v1/keys', payload);
        expect(response.statusCode, JSON.stringify(payload)).toBe(400);
        expect(response.json().field).toBe(field);
      }
    });

    it('the list comes in pages, newest first: limit (1..1000, default 100) and offset', async () => {
      const ada = await as('ada@example.com');
      const names: string[] = [];
      for (let i = 0; i < 5; i++) {
        names.unshift(`k${i}`);
        expect((await ada('POST', '/api/v1/keys', { name: `k${i}` })).statusCode).toBe(201);
        h.advance(1_000);
      }
      const all = (await ada('GET', '/api/v1/keys')).json();
      expect(all.keys.map((key: { name: string }) => key.name)).toEqual(names);
      expect([all.total, all.limit, all.offset, all.has_more]).toEqual([5, 100, 0, false]);
      const first = (await ada('GET', '/api/v1/keys?limit=2')).json();
      expect(first.keys.map((key: { name: string }) => key.name)).toEqual(['k4', 'k3']);
      expect([first.total, first.limit, first.offset, first.has_more]).toEqual([5, 2, 0, true]);
      const last = (await ada('GET', '/api/v1/keys?limit=2&offset=4')).json();
      expect(last.keys.map((key: { name: string }) => key.name)).toEqual(['k0']);
      expect(last.has_more).toBe(false);
      expect((await ada('GET', '/api/v1/keys?offset=9')).json().keys).toEqual([]);
      for (const query of ['limit=0', 'limit=1001', 'limit=x', 'limit=1.5', 'offset=-1', 'limit=&offset=1']) {
        const response = await ada('GET', `/api/v1/keys?${query}`);
        expect(response.statusCode, query).toBe(400);
        expect(response.json().error).toBe('invalid_request');
        expect(['limit', 'offset']).toContain(response.json().field);
      }
    });

    it('without a session: 401 invalid_token, for every route', async () => {
      for (const [method, url] of [
        ['GET', '/api/v1/keys'],
        ['POST', '/api/v1/keys'],
        ['GET', '/api/v1/keys/key_x'],
        ['DELETE', '/api/v1/keys/key_x'],
        ['POST', '/api/v1/keys/key_x/roll'],
        ['GET', '/api/v1/devices'],
        ['DELETE', '/api/v1/devices/dev_x'],
      ] as const) {
        const response = await h.inject({
          method,
          url,
          ...(method === 'POST' && { payload: { name: 'x' } }),
        });
        expect(response.statusCode, `${method} ${url}`).toBe(401);
        expect(response.json().error).toBe('invalid_token');
      }
    });
  });

  describe('who sees what', () => {
    it('another organization: every id answers 404 exactly like one that does not exist', async () => {
      const ada = await as('ada@example.com', { organization: 'Acme', role: 'owner' });
      const eve = await as('eve@example.com', { organization: 'Evil', role: 'owner' });
      const key = (await ada('POST', '/api/v1/keys', { name: 'prod' })).json();
      expect((await h.login(key.key, FP_A)).statusCode).toBe(200);
      const device = (await ada('GET', '/api/v1/devices')).json().devices[0];
      const attempts: [string, 'GET' | 'POST' | 'DELETE', string][] = [
        ['get key', 'GET', `/api/v1/keys/${key.id}`],
        ['revoke key', 'DELETE', `/api/v1/keys/${key.id}`],
        ['roll key', 'POST', `/api/v1/keys/${key.id}/roll`],
        ['unbind device', 'DELETE', `/api/v1/devices/${device.id}`],
      ];
      for (const [what, method, url] of attempts) {
        const theirs = await eve(method, url);
        const none = await eve(method, url.replace(/(key|dev)_[0-9A-Za-z]+/, '$1_doesnotexist0000'));
        expect(theirs.statusCode, what).toBe(404);
        expect(theirs.json(), what).toEqual(none.json());
      }
      expect((await eve('GET', '/api/v1/keys')).json().keys).toEqual([]);
      expect((await eve('GET', '/api/v1/devices')).json().devices).toEqual([]);
      // Nothing changed for Ada.
      expect((await ada('GET', `/api/v1/keys/${key.id}`)).json().status).toBe('active');
      expect((await h.get('/api/v1/cli/status', key.key, FP_A)).statusCode).toBe(200);
    });

    it('members see their own keys; owners and admins see every key of the organization', async () => {
      const owner = await as('owner@example.com', { organization: 'Acme', role: 'owner' });
      const admin = await as('admin@example.com', { organization: 'Acme', role: 'admin' });
      const member = await as('member@example.com', { organization: 'Acme', role: 'member' });
      const other = await as('other@example.com', { organization: 'Acme', role: 'member' });
      // Keys go to each person's default organization; name Acme's workspace to put them there.
      const workspace = (await owner('POST', '/api/v1/keys', { name: 'owner key' })).json().workspace.id;
      const mine = (
        await member('POST', '/api/v1/keys', { name: 'member key', workspace_id: workspace })
      ).json();
      await other('POST', '/api/v1/keys', { name: 'other key', workspace_id: workspace });
      const names = async (caller: typeof owner) =>
        ((await caller('GET', '/api/v1/keys')).json().keys as { name: string }[])
          .map((key) => key.name)
          .sort();
      expect(await names(owner)).toEqual(['member key', 'other key', 'owner key']);
      expect(await names(admin)).toEqual(['member key', 'other key', 'owner key']);
      expect(await names(member)).toEqual(['member key']);
      expect((await other('DELETE', `/api/v1/keys/${mine.id}`)).statusCode).toBe(404);
      expect((await admin('DELETE', `/api/v1/keys/${mine.id}`)).statusCode).toBe(200);
      const trail = (await h.store.read.audit.list(mine.id)).at(-1);
      expect(trail?.event).toBe('revoke');
      expect(trail?.actor_user_id).toBe((await h.store.read.accounts.userByEmail('admin@example.com'))?.id);
    });

    it("the dashboard's pages and count follow the same rule as the whole list", async () => {
      const owner = await as('owner@example.com', { organization: 'Acme', role: 'owner' });
      const member = await as('member@example.com', { organization: 'Acme', role: 'member' });
      await as('admin@example.com', { organization: 'Acme', role: 'admin' });
      await as('outsider@example.com');
      const workspace = (await owner('POST', '/api/v1/keys', { name: 'owner 0' })).json().workspace.id;
      for (let i = 1; i < 4; i++) {
        const key = (
          await owner('POST', '/api/v1/keys', { name: `owner ${i}`, workspace_id: workspace })
        ).json();
        if (i === 1) expect((await h.login(key.key, FP_A)).statusCode).toBe(200);
        if (i === 2) expect((await owner('DELETE', `/api/v1/keys/${key.id}`)).statusCode).toBe(200);
        h.advance(1_000);
        await member('POST', '/api/v1/keys', { name: `member ${i}`, workspace_id: workspace });
      }
      // Without a workspace: Acme's Default (the member has no organization of their own); and a
      // key of another organization.
      await member('POST', '/api/v1/keys', { name: 'member default' });
      await (await as('eve@example.com', { organization: 'Evil', role: 'owner' }))('POST', '/api/v1/keys', {
        name: 'evil',
      });
      for (const email of [
        'owner@example.com',
        'admin@example.com',
        'member@example.com',
        'outsider@example.com',
      ]) {
        const userId = (await h.store.read.accounts.userByEmail(email))?.id as string;
        const whole = await h.store.read.keys.visibleTo(userId);
        const pages = [];
        for (let offset = 0; offset <= whole.length; offset += 3) {
          pages.push(...(await h.store.read.keys.visibleTo(userId, { limit: 3, offset })));
        }
        expect(pages, email).toEqual(whole);
        expect(await h.store.read.keys.countVisibleTo(userId), email).toBe(whole.length);
      }
      const ownerId = (await h.store.read.accounts.userByEmail('owner@example.com'))?.id as string;
      const seen = await h.store.read.keys.visibleTo(ownerId, { limit: 10, offset: 0 });
      expect(seen.map((key) => key.name).sort()).toEqual(
        [
          'member 1',
          'member 2',
          'member 3',
          'member default',
          'owner 0',
          'owner 1',
          'owner 2',
          'owner 3',
        ].sort(),
      );
      expect(seen.find((key) => key.name === 'owner 1')?.device_id).toMatch(/^dev_/);
      expect(seen.find((key) => key.name === 'owner 2')?.revoked_at).not.toBeNull();
    });

    it('a workspace of an organization one does not belong to is refused', async () => {
      const ada = await as('ada@example.com', { organization: 'Acme', role: 'owner' });
      const eve = await as('eve@example.com', { organization: 'Evil', role: 'owner' });
      const workspace = (await ada('POST', '/api/v1/keys', { name: 'a' })).json().workspace.id;
      const response = await eve('POST', '/api/v1/keys', { name: 'sneaky', workspace_id: workspace });
      expect(response.statusCode).toBe(404);
    });
  });

  describe('revoke, roll, devices', () => {
    it('DELETE revokes (idempotent) and the CLI is refused on its very next request', async () => {
      const ada = await as('ada@example.com');
      const key = (await ada('POST', '/api/v1/keys', { name: 'k' })).json();
      expect((await h.login(key.key, FP_A)).statusCode).toBe(200);
      expect((await h.get('/api/v1/cli/status', key.key, FP_A)).statusCode).toBe(200);
      const revoked = await ada('DELETE', `/api/v1/keys/${key.id}`);
      expect(revoked.json()).toEqual({ id: key.id, status: 'revoked', revoked_at: h.now().toISOString() });
      expect((await h.get('/api/v1/cli/status', key.key, FP_A)).json().error).toBe('key_revoked');
      h.advance(5_000);
      expect((await ada('DELETE', `/api/v1/keys/${key.id}`)).json()).toEqual(revoked.json());
      expect((await ada('GET', `/api/v1/keys/${key.id}`)).json().status).toBe('revoked');
    });

    it('roll: a new key shown once; the old one works through the grace period, then answers key_expired', async () => {
      const ada = await as('ada@example.com');
      const old = (
        await ada('POST', '/api/v1/keys', { name: 'deploy', environment: 'live', type: 'server' })
      ).json();
      const rolled = await ada('POST', `/api/v1/keys/${old.id}/roll`, { grace_seconds: 600 });
      expect(rolled.statusCode).toBe(201);
      const fresh = rolled.json();
      expect(fresh).toMatchObject({ name: 'deploy', environment: 'live', type: 'server', status: 'active' });
      expect(fresh.key).toMatch(/^sk_live_/);
      expect(fresh.replaces).toEqual({
        id: old.id,
        expires_at: new Date(h.now().getTime() + 600_000).toISOString(),
      });
      expect((await ada('GET', `/api/v1/keys/${old.id}`)).json().status).toBe('rolling');
      const status = (key: string) => h.get('/api/v1/cli/status', key, FP_A);
      expect((await status(old.key)).statusCode).toBe(200);
      expect((await status(fresh.key)).statusCode).toBe(200);
      h.advance(600_000 - 1);
      expect((await status(old.key)).statusCode).toBe(200);
      h.advance(1);
      expect((await status(old.key)).json().error).toBe('key_expired');
      expect((await status(fresh.key)).statusCode).toBe(200);
      expect((await ada('GET', `/api/v1/keys/${old.id}`)).json().status).toBe('expired');
      expect((await ada('POST', `/api/v1/keys/${old.id}/roll`)).statusCode).toBe(409);
      expect((await ada('GET', '/api/v1/keys')).body).not.toContain(fresh.key);
    });

    it('permissions: chosen at creation, each once; a roll keeps them unless its body names others', async () => {
      const ada = await as('ada@example.com');
      const created = await ada('POST', '/api/v1/keys', {
        name: 'svc',
        type: 'server',
        permissions: ['verify', 'deploy:write', 'verify', `a${'b'.repeat(63)}`],
      });
      expect(created.statusCode).toBe(201);
      const key = created.json();
      const expected = ['verify', 'deploy:write', `a${'b'.repeat(63)}`];
      expect(key.permissions).toEqual(expected);
      expect((await ada('GET', `/api/v1/keys/${key.id}`)).json().permissions).toEqual(expected);
      expect((await ada('GET', '/api/v1/keys')).json().keys[0].permissions).toEqual(expected);
      const kept = (await ada('POST', `/api/v1/keys/${key.id}/roll`, { grace_seconds: 60 })).json();
      expect(kept.permissions).toEqual(expected);
      const changed = await ada('POST', `/api/v1/keys/${kept.id}/roll`, { permissions: ['deploy:read'] });
      expect(changed.statusCode).toBe(201);
      expect(changed.json().permissions).toEqual(['deploy:read']);
      expect((await ada('GET', `/api/v1/keys/${changed.json().id}`)).json().permissions).toEqual([
        'deploy:read',
      ]);
      expect((await ada('GET', `/api/v1/keys/${kept.id}`)).json().permissions).toEqual(expected);
      const bad = await ada('POST', `/api/v1/keys/${changed.json().id}/roll`, { permissions: ['A'] });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().field).toBe('permissions');
    });

    it('roll without grace stops the old key at once; bad grace values are 400', async () => {
      const ada = await as('ada@example.com');
      const old = (await ada('POST', '/api/v1/keys', { name: 'k' })).json();
      for (const grace of [-1, 604_801, 'soon']) {
        expect((await ada('POST', `/api/v1/keys/${old.id}/roll`, { grace_seconds: grace })).statusCode).toBe(
          400,
        );
      }
      expect((await ada('POST', `/api/v1/keys/${old.id}/roll`)).statusCode).toBe(201);
      expect((await h.get('/api/v1/cli/status', old.key, FP_A)).json().error).toBe('key_expired');
    });

    it('last used and the bound device move after CLI calls; unbind frees the key for any device', async () => {
      const ada = await as('ada@example.com');
      const key = (await ada('POST', '/api/v1/keys', { name: 'k' })).json();
      expect((await ada('GET', `/api/v1/keys/${key.id}`)).json().last_used_at).toBeNull();
      h.advance(1_000);
      expect((await h.login(key.key, FP_A)).statusCode).toBe(200);
      const used = (await ada('GET', `/api/v1/keys/${key.id}`)).json();
      expect(used.last_used_at).toBe(h.now().toISOString());
      expect(used.device).toEqual({
        id: expect.stringMatching(/^dev_/),
        name: 'host-aaaa',
        os: 'linux',
        bound_at: h.now().toISOString(),
        last_seen_at: h.now().toISOString(),
      });
      h.advance(120_000);
      expect((await h.get('/api/v1/cli/status', key.key, FP_A)).statusCode).toBe(200);
      const later = (await ada('GET', `/api/v1/keys/${key.id}`)).json();
      expect(later.last_used_at).toBe(h.now().toISOString());
      expect(later.device.last_seen_at).toBe(h.now().toISOString());
      const devices = (await ada('GET', '/api/v1/devices')).json().devices;
      expect(devices).toEqual([
        {
          id: used.device.id,
          name: 'host-aaaa',
          os: 'linux',
          os_version: 'Debian 12',
          arch: 'x64',
          fingerprint_prefix: FP_A.slice(0, 12),
          bound_at: used.device.bound_at,
          last_seen_at: h.now().toISOString(),
          last_ip: '127.0.0.1',
          key: { id: key.id, name: 'k', masked: key.masked },
        },
      ]);
      expect((await h.login(key.key, FP_B)).statusCode).toBe(409);
      const unbound = await ada('DELETE', `/api/v1/devices/${used.device.id}`);
      expect(unbound.json()).toEqual({ id: used.device.id, unbound_at: h.now().toISOString() });
      expect((await ada('GET', '/api/v1/devices')).json().devices).toEqual([]);
      expect((await h.login(key.key, FP_B)).statusCode).toBe(200);
      expect((await ada('DELETE', `/api/v1/devices/${used.device.id}`)).statusCode).toBe(404);
    });

    it('a server key never binds: login answers 403 forbidden naming SEKUIRE_API_KEY, status works anywhere', async () => {
      const ada = await as('ada@example.com');
      const key = (await ada('POST', '/api/v1/keys', { name: 'svc', type: 'server' })).json();
      const login = await h.login(key.key, FP_A);
      expect(login.statusCode).toBe(403);
      expect(login.json()).toEqual({
        error: 'forbidden',
        message:
          'This is a server key: server keys are never bound to a device. Use it with SEKUIRE_API_KEY instead of logging in.',
      });
      expect((await h.get('/api/v1/cli/status', key.key, FP_A)).json().device).toBeNull();
      expect((await h.get('/api/v1/cli/status', key.key, FP_B)).statusCode).toBe(200);
    });
  });

  describe('the session cookie needs the CSRF token for changes', () => {
    it('403 csrf_failed without X-CSRF-Token, 201 with the token of the page', async () => {
      await h.createUser({ email: 'ada@example.com' });
      const loginPage = await h.inject({ method: 'GET', url: '/login' });
      const csrfCookie = loginPage.cookies.find((cookie) => cookie.name === 'sekuire_csrf');
      const loginToken = /name="_csrf" value="([^"]+)"/.exec(loginPage.body)?.[1] as string;
      const signedIn = await h.inject({
        method: 'POST',
        url: '/login',
        cookies: { sekuire_csrf: csrfCookie?.value ?? '' },
        payload: `email=ada%40example.com&password=${encodeURIComponent(PASSWORD)}&_csrf=${encodeURIComponent(loginToken)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(signedIn.statusCode).toBe(303);
      const session = signedIn.cookies.find((cookie) => cookie.name === 'sekuire_session');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
      const cookies = { sekuire_session: session?.value ?? '', sekuire_csrf: csrfCookie?.value ?? '' };
      const page = await h.inject({ method: 'GET', url: '/dashboard/settings?tab=api-keys', cookies });
      expect(page.statusCode).toBe(200);
      const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] as string;

      const without = await h.inject({
        method: 'POST',
        url: '/api/v1/keys',
        cookies,
        payload: { name: 'x' },
      });
      expect(without.statusCode).toBe(403);
      expect(without.json().error).toBe('csrf_failed');
      const wrong = await h.inject({
        method: 'POST',
        url: '/api/v1/keys',
        cookies,
        headers: { 'x-csrf-token': loginToken },
        payload: { name: 'x' },
      });
      expect(wrong.statusCode).toBe(403);
      const withToken = await h.inject({
        method: 'POST',
        url: '/api/v1/keys',
        cookies,
        headers: { 'x-csrf-token': token },
        payload: { name: 'x' },
      });
      expect(withToken.statusCode).toBe(201);
      // Reads need no token; and without the cookie the token alone is nothing.
      expect((await h.inject({ method: 'GET', url: '/api/v1/keys', cookies })).statusCode).toBe(200);
      expect(
        (
          await h.inject({
            method: 'POST',
            url: '/api/v1/keys',
            headers: { 'x-csrf-token': token },
            payload: { name: 'x' },
          })
        ).statusCode,
      ).toBe(401);
    });
  });
});
