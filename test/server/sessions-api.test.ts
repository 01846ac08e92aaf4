// Sessions for people: sign in, refresh with reuse detection, sign out, me; limits before any hash.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../packages/server/src/http/app.js';
import { openStore } from '../../packages/server/src/store/open.js';
import { forEachEngine } from '../helpers/engines.js';
import { formSession } from './form-session.js';
import { type Harness, type HarnessOptions, harness, PASSWORD, T0, TEST_PASSWORD_COST } from './harness.js';

forEachEngine((engine) => {
  let h: Harness;
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });
  const start = async (options: HarnessOptions = {}) => {
    h = await harness({ engine, ...options });
    return h;
  };

  const signIn = (email: string, password: string, remoteAddress?: string) =>
    h.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password },
      ...(remoteAddress !== undefined && { remoteAddress }),
    });
  const me = (token: string) =>
    h.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });
  const refresh = (token: string) =>
    h.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } });
  const logout = (token: string) =>
    h.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { authorization: `Bearer ${token}` } });

  describe('sign in', () => {
    it('answers the DASHBOARD.md shape; the access token opens /me', async () => {
      await start();
      const ada = await h.createUser({
        email: 'ada@example.com',
        name: 'Ada',
        organization: 'Acme',
        role: 'admin',
      });
      const response = await signIn('ADA@example.com', PASSWORD);
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      const body = response.json();
      expect(body).toEqual({
        access_token: expect.stringMatching(/^sek_at_[0-9A-Za-z]{32}$/),
        token_type: 'bearer',
        expires_in: 3600,
        refresh_token: expect.stringMatching(/^sek_rt_[0-9A-Za-z]{32}$/),
        user: { id: ada.user.id, email: 'ada@example.com', name: 'Ada' },
      });
      const profile = await me(body.access_token);
      expect(profile.statusCode).toBe(200);
      expect(profile.json()).toEqual({
        id: ada.user.id,
        email: 'ada@example.com',
        name: 'Ada',
        organizations: [{ id: ada.organization.id, name: 'Acme', role: 'admin' }],
        created_at: T0.toISOString(),
        last_login_at: T0.toISOString(),
      });
    });

    it('a wrong password and an unknown email get the same 401; neither password is recorded', async () => {
      await start();
      await h.createUser({ email: 'ada@example.com' });
      const wrong = await signIn('ada@example.com', 'not the password');
      const unknown = await signIn('nobody@example.com', 'not the password');
      for (const response of [wrong, unknown]) {
        expect(response.statusCode).toBe(401);
        expect(response.json()).toEqual({
          error: 'invalid_credentials',
          message: 'Wrong email or password.',
        });
      }
      const events = await h.store.read.audit.list();
      expect(events.filter((event) => event.event === 'sign_in_failed').map((event) => event.detail)).toEqual(
        [{ email: 'ada@example.com' }, { email: 'nobody@example.com' }],
      );
      expect(JSON.stringify(events)).not.toContain('not the password');
      expect(JSON.stringify(events)).not.toContain(PASSWORD);
    });

    it('a user without a password cannot sign in', async () => {
      await start();
      await h.createKey({ email: 'keys-only@example.com' });
      expect((await signIn('keys-only@example.com', PASSWORD)).statusCode).toBe(401);
    });

    it('rejects malformed bodies with 400 naming the field', async () => {
      await start();
      const cases: [unknown, string][] = [
        [{}, 'email'],
        [{ email: 'a@b.c' }, 'password'],
        [{ email: 'a@b.c', password: 'x'.repeat(1025) }, 'password'],
        [{ email: 5, password: 'x' }, 'email'],
      ];
      for (const [payload, field] of cases) {
        const response = await h.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: payload as object,
        });
        expect(response.statusCode).toBe(400);
        expect(response.json().field).toBe(field);
      }
    });
  });

  describe('the limiter stands in front of the password hash', () => {
    it('per account: after 50 failures, 429 with Retry-After, and from then on no password is checked', async () => {
      await start();
      await h.createUser({ email: 'ada@example.com' });
      for (let i = 0; i < 50; i++) {
        // From many addresses: a distributed guess at one account meets the account's cap.
        expect((await signIn('ada@example.com', `guess ${i}`, `10.0.0.${i + 1}`)).statusCode).toBe(401);
      }
      const failuresBefore = (await h.store.read.audit.list()).filter(
        (event) => event.event === 'sign_in_failed',
      ).length;
      for (let i = 0; i < 3; i++) {
        const limited = await signIn('ada@example.com', PASSWORD, `10.0.1.${i + 1}`);
        expect(limited.statusCode).toBe(429);
        expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
        expect(limited.json().error).toBe('rate_limited');
      }
      // A refused attempt never reached the hash: it left no sign_in_failed (which only a check writes).
      const failuresAfter = (await h.store.read.audit.list()).filter(
        (event) => event.event === 'sign_in_failed',
      ).length;
      expect(failuresAfter).toBe(failuresBefore);
      // Another account is unaffected.
      await h.createUser({ email: 'bob@example.com' });
      expect((await signIn('bob@example.com', PASSWORD, '10.0.2.1')).statusCode).toBe(200);
    });

    it('guesses from one address close that address, never the account: the owner elsewhere gets in', async () => {
      await start();
      await h.createUser({ email: 'ada@example.com' });
      const statuses = [];
      for (let i = 0; i < 31; i++)
        statuses.push((await signIn('ada@example.com', `guess ${i}`, '10.6.6.6')).statusCode);
      expect(statuses).toEqual([...Array(30).fill(401), 429]);
      expect((await signIn('ada@example.com', PASSWORD, '10.6.6.6')).statusCode).toBe(429);
      expect((await signIn('ada@example.com', PASSWORD, '10.0.0.1')).statusCode).toBe(200);
    });

    it('an email is one account on both engines: a variant the database would fold counts with it, or is another', async () => {
      // C.utf8 on PostgreSQL, as a deployment's locale: there lower('İ') is 'i'.
      await start({ ctype: 'C.utf8', signInLimit: { perAddress: 100, perAccount: 3, windowMs: 60_000 } });
      await h.createUser({ email: 'alice@example.com' });
      for (let i = 0; i < 3; i++)
        expect((await signIn('alice@example.com', `guess ${i}`, `10.0.0.${i + 1}`)).statusCode).toBe(401);
      const statuses = [];
      for (const [email, address] of [
        ['ALICE@Example.COM', '10.0.1.1'],
        [' alice@example.com ', '10.0.1.2'],
        ['al\u0130ce@example.com', '10.0.1.3'],
        ['al\u0130ce@example.com', '10.0.1.4'],
      ] as const)
        statuses.push((await signIn(email, PASSWORD, address)).statusCode);
      // The dotted capital I is another address, not alice's: wrong, and not in her count.
      expect(statuses).toEqual([429, 429, 401, 401]);
    });

    it('a right password is not counted against the account', async () => {
      await start({ signInLimit: { perAddress: 100, perAccount: 3, windowMs: 60_000 } });
      await h.createUser({ email: 'ada@example.com' });
      for (let i = 0; i < 5; i++) expect((await signIn('ada@example.com', PASSWORD)).statusCode).toBe(200);
      expect((await signIn('ada@example.com', 'wrong guess')).statusCode).toBe(401);
      expect((await signIn('ada@example.com', PASSWORD)).statusCode).toBe(200);
    });

    it('instances on one database share the counts, and a restart does not reset them', async () => {
      await start({ signInLimit: { perAddress: 100, perAccount: 4, windowMs: 60_000 } });
      await h.createUser({ email: 'ada@example.com' });
      // Another instance on the same database, as behind a load balancer (or after a restart).
      const instance = async () => {
        const store = await openStore(h.target);
        const app = await buildApp({
          store,
          secret: h.secret,
          now: h.now,
          logError: (message) => h.logged.push(message),
          passwordCost: TEST_PASSWORD_COST,
          signInLimit: { perAddress: 100, perAccount: 4, windowMs: 60_000 },
        });
        return {
          app,
          close: async () => {
            await app.close();
            await store.close();
          },
        };
      };
      const attempt = (app: FastifyInstance, password: string) =>
        app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { email: 'Ada@Example.com ', password },
          remoteAddress: '10.9.0.1',
        });
      const b = await instance();
      const statuses = [];
      for (const app of [h.app, b.app, h.app, b.app, b.app, h.app])
        statuses.push((await attempt(app, 'wrong guess')).statusCode);
      expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
      const limited = await attempt(b.app, PASSWORD);
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('60');
      await b.close();
      // A server started afterwards reads what was counted: the same window, half gone.
      h.advance(30_000);
      const restarted = await instance();
      try {
        expect((await attempt(restarted.app, PASSWORD)).headers['retry-after']).toBe('30');
        // The window ends for every instance at once.
        h.advance(30_000);
        expect((await attempt(restarted.app, PASSWORD)).statusCode).toBe(200);
        expect((await attempt(h.app, 'wrong guess')).statusCode).toBe(401);
      } finally {
        await restarted.close();
      }
    });

    it('per address: many accounts tried from one address meet its limit', async () => {
      await start({ signInLimit: { perAddress: 5, perAccount: 100, windowMs: 60_000 } });
      const statuses = [];
      for (let i = 0; i < 7; i++)
        statuses.push((await signIn(`u${i}@example.com`, 'whatever123')).statusCode);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    });
  });

  describe('tokens', () => {
    it('refresh rotates both tokens; the old refresh token used again ends the whole session', async () => {
      await start();
      await h.createUser({ email: 'ada@example.com' });
      const first = (await signIn('ada@example.com', PASSWORD)).json();
      const rotated = await refresh(first.refresh_token);
      expect(rotated.statusCode).toBe(200);
      const second = rotated.json();
      expect(second).toEqual({
        access_token: expect.stringMatching(/^sek_at_/),
        expires_in: 3600,
        refresh_token: expect.stringMatching(/^sek_rt_/),
      });
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect((await me(second.access_token)).statusCode).toBe(200);
      // The stolen copy of the first refresh token shows up: everything of this session dies.
      const reused = await refresh(first.refresh_token);
      expect(reused.statusCode).toBe(401);
      expect(reused.json()).toEqual({
        error: 'invalid_token',
        message: 'This refresh token was already used: the session has been ended. Sign in again.',
      });
      expect((await me(second.access_token)).statusCode).toBe(401);
      expect((await me(first.access_token)).statusCode).toBe(401);
      expect((await refresh(second.refresh_token)).statusCode).toBe(401);
      const events = (await h.store.read.audit.list()).map((event) => event.event);
      expect(events).toContain('session_reuse');
    });

    it('logout ends the session at once: access and refresh tokens both stop', async () => {
      await start();
      await h.createUser({ email: 'ada@example.com' });
      const tokens = (await signIn('ada@example.com', PASSWORD)).json();
      const out = await logout(tokens.access_token);
      expect(out.statusCode).toBe(200);
      expect(out.json()).toEqual({ logged_out: true });
      expect((await me(tokens.access_token)).statusCode).toBe(401);
      expect((await refresh(tokens.refresh_token)).statusCode).toBe(401);
      expect((await logout(tokens.access_token)).statusCode).toBe(401);
    });

    it('an access token lives an hour; a refresh token brings a new one', async () => {
      await start();
      await h.createUser({ email: 'ada@example.com' });
      const tokens = (await signIn('ada@example.com', PASSWORD)).json();
      h.advance(3_600_000 - 1);
      expect((await me(tokens.access_token)).statusCode).toBe(200);
      h.advance(1);
      const expired = await me(tokens.access_token);
      expect(expired.statusCode).toBe(401);
      expect(expired.json().error).toBe('invalid_token');
      const renewed = (await refresh(tokens.refresh_token)).json();
      expect((await me(renewed.access_token)).statusCode).toBe(200);
    });

    it('API keys do not open the session API, and tokens do not open the CLI API', async () => {
      await start();
      await h.createUser({ email: 'ada@example.com' });
      const { apiKey } = await h.createKey({ email: 'ada@example.com' });
      expect((await me(apiKey.value)).statusCode).toBe(401);
      const tokens = (await signIn('ada@example.com', PASSWORD)).json();
      const cli = await h.inject({
        method: 'GET',
        url: '/api/v1/cli/status',
        headers: { authorization: `Bearer ${tokens.access_token}`, 'x-sekuire-device': 'a'.repeat(64) },
      });
      expect(cli.statusCode).toBe(401);
      expect(cli.json().error).toBe('invalid_key');
    });

    it('a new password ends every session of that person on every instance at once, audited', async () => {
      await start();
      const ada = await h.createUser({ email: 'ada@example.com' });
      await h.createUser({ email: 'bob@example.com' });
      const tokens = (await signIn('ada@example.com', PASSWORD)).json();
      const browser = formSession(h);
      expect((await browser.signIn('ada@example.com')).statusCode).toBe(303);
      const bob = (await signIn('bob@example.com', PASSWORD)).json();
      // Another instance on the same database.
      const store = await openStore(h.target);
      const other = await buildApp({
        store,
        secret: h.secret,
        now: h.now,
        logError: (message) => h.logged.push(message),
        passwordCost: TEST_PASSWORD_COST,
      });
      const cookie = browser.session() as string;
      const onEach = async () => {
        const statuses: number[] = [];
        for (const app of [h.app, other]) {
          const headers = { authorization: `Bearer ${tokens.access_token}` };
          statuses.push((await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).statusCode);
          const page = await app.inject({
            method: 'GET',
            url: '/dashboard/settings?tab=api-keys',
            cookies: { sekuire_session: cookie },
          });
          statuses.push(page.statusCode);
        }
        return statuses;
      };
      try {
        expect(await onEach()).toEqual([200, 200, 200, 200]);
        const changed = await h.createUser({ email: 'ada@example.com', password: 'a brand new passphrase' });
        expect(changed.sessionsEnded).toBe(2);
        expect(await onEach()).toEqual([401, 303, 401, 303]);
        expect((await refresh(tokens.refresh_token)).statusCode).toBe(401);
        // Someone else's session goes on; the new password signs in, the old one does not.
        expect((await me(bob.access_token)).statusCode).toBe(200);
        expect((await signIn('ada@example.com', PASSWORD)).statusCode).toBe(401);
        expect((await signIn('ada@example.com', 'a brand new passphrase')).statusCode).toBe(200);
        const set = (await h.store.read.audit.list()).filter((event) => event.event === 'password_set');
        expect(set.map((event) => event.detail)).toEqual([
          {
            email: 'ada@example.com',
            organization_id: ada.organization.id,
            role: 'owner',
            password_set: true,
            sessions_ended: 2,
          },
        ]);
      } finally {
        await other.close();
        await store.close();
      }
    });

    it('no token, password or key in the audit trail', async () => {
      await start();
      await h.createUser({ email: 'ada@example.com' });
      const tokens = (await signIn('ada@example.com', PASSWORD)).json();
      const rotated = (await refresh(tokens.refresh_token)).json();
      await refresh(tokens.refresh_token);
      const trail = JSON.stringify(await h.store.read.audit.list());
      for (const secret of [
        PASSWORD,
        tokens.access_token,
        tokens.refresh_token,
        rotated.access_token,
        rotated.refresh_token,
      ]) {
        expect(trail).not.toContain(secret);
      }
      expect(trail).not.toMatch(/sek_(at|rt|ck)_/);
    });
  });
});
