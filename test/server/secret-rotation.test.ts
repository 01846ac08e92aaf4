// Rotating the server secret: what older secrets made keeps working, is digested anew on use, and
// rotate-secret says what still depends on each secret.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, expect, it } from 'vitest';
import { secretId } from '../../packages/server/src/domain/digest.js';
import { createApiKey } from '../../packages/server/src/domain/keys.js';
import { buildApp } from '../../packages/server/src/http/app.js';
import { forEachEngine } from '../helpers/engines.js';
import { runServer } from '../helpers/server-commands.js';
import { formSession } from './form-session.js';
import { FP_A, type Harness, harness, PASSWORD, TEST_PASSWORD_COST } from './harness.js';

const A_HEX = 'a1'.repeat(32);
const B_HEX = 'b2'.repeat(32);
const A = Buffer.from(A_HEX, 'hex');
const B = Buffer.from(B_HEX, 'hex');
const A_ID = secretId(A);
const B_ID = secretId(B);

forEachEngine((engine) => {
  let h: Harness;
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    expect(h.logged).toEqual([]);
    await h.close();
  });

  /** Another instance on the same database, given these secrets (newest first). */
  const instance = async (secret: Buffer, olderSecrets: readonly Buffer[] = []) => {
    const app = await buildApp({
      store: h.store,
      secret,
      olderSecrets,
      now: h.now,
      passwordCost: TEST_PASSWORD_COST,
      logError: (message) => h.logged.push(message),
      // Serves what the harness serves: in-process requests are addressed to localhost.
      publicUrls: ['http://localhost'],
    });
    apps.push(app);
    return app;
  };
  const whoami = (app: FastifyInstance, key: string) =>
    app.inject({
      method: 'GET',
      url: '/api/v1/cli/whoami',
      headers: {
        'x-api-key': key,
        'x-sekuire-device': FP_A,
        ...h.sign(h.deviceKey(FP_A), 'GET', '/api/v1/cli/whoami'),
      },
    });
  const dashboard = (app: FastifyInstance, cookie: string) =>
    app.inject({
      method: 'GET',
      url: '/dashboard/settings?tab=api-keys',
      cookies: { sekuire_session: cookie },
    });
  const me = (app: FastifyInstance, token: string) =>
    app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });
  const refresh = (app: FastifyInstance, token: string) =>
    app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } });
  const statuses = (responses: readonly LightMyRequestResponse[]) => responses.map((r) => r.statusCode);
  const rotateSecret = (secrets: string) =>
    runServer(['rotate-secret', '--db', h.target], { env: { SEKUIRE_SERVER_SECRET: secrets }, now: h.now });
  const secretIds = async () => ({
    keys: (
      await h.sql.all<{ id: string; secret_id: string }>('SELECT id, secret_id FROM api_keys ORDER BY id')
    ).map((row) => `${row.id} ${row.secret_id}`),
    tokens: (
      await h.sql.all<{ kind: string; secret_id: string }>(
        'SELECT kind, secret_id FROM session_tokens WHERE used_at IS NULL ORDER BY kind, secret_id',
      )
    ).map((row) => `${row.kind} ${row.secret_id}`),
  });

  it('made under A, served with "B,A" then "B": nobody signed out, used keys kept, the unused key reported', async () => {
    h = await harness({ engine, secret: A });
    await h.createUser({ email: 'ada@example.com', organization: 'Acme', role: 'admin' });
    const used = await createApiKey(h.store, A, { email: 'ada@example.com', environment: 'test' }, h.now());
    const idle = await createApiKey(h.store, A, { email: 'ada@example.com', environment: 'test' }, h.now());
    expect((await h.login(used.apiKey.value, FP_A)).statusCode).toBe(200);
    const signedIn = (
      await h.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'ada@example.com', password: PASSWORD },
      })
    ).json() as { access_token: string; refresh_token: string };
    const browser = formSession(h);
    expect((await browser.signIn('ada@example.com')).statusCode).toBe(303);
    const cookie = browser.session() as string;

    const dependsOnA = `${A_ID} older: 2 keys, 2 sessions (3 tokens) still depend on it; dropping it now would revoke 2 keys and sign out 2 sessions.`;
    expect(await rotateSecret(`${B_HEX},${A_HEX}`)).toEqual({
      code: 0,
      stdout: [
        `${B_ID} newest: 0 keys, 0 sessions (0 tokens)`,
        dependsOnA,
        // Created at the same moment: listed by id.
        ...[used, idle].map((key) => `  ${key.key.id}  ${key.key.masked}  CLI key`).sort(),
        '',
      ].join('\n'),
      stderr: '',
    });

    const rolling = await instance(B, [A]);
    expect(
      statuses([
        await whoami(rolling, used.apiKey.value),
        await dashboard(rolling, cookie),
        await me(rolling, signedIn.access_token),
      ]),
    ).toEqual([200, 200, 200]);
    const renewed = await refresh(rolling, signedIn.refresh_token);
    expect(renewed.statusCode).toBe(200);
    const tokens = renewed.json() as { access_token: string; refresh_token: string };
    expect(await secretIds()).toEqual({
      keys: [`${used.key.id} ${B_ID}`, `${idle.key.id} ${A_ID}`].sort(),
      tokens: [`access ${B_ID}`, `access ${B_ID}`, `cookie ${B_ID}`, `refresh ${B_ID}`],
    });
    // An instance still on A alone no longer finds what B re-digested: why every instance
    // learns B before any makes it the newest. (Keys are left out here: this test's instances
    // share one store, so its cache still holds the key under A's digest.)
    expect(statuses([await dashboard(h.app, cookie), await me(h.app, signedIn.access_token)])).toEqual([
      303, 401,
    ]);

    const rotated = await rotateSecret(`${B_HEX},${A_HEX}`);
    expect(rotated).toEqual({
      code: 0,
      stdout: [
        `${B_ID} newest: 1 key, 2 sessions (4 tokens)`,
        `${A_ID} older: 1 key, 0 sessions (0 tokens) still depend on it; dropping it now would revoke 1 key and sign out 0 sessions.`,
        `  ${idle.key.id}  ${idle.key.masked}  CLI key`,
        '',
      ].join('\n'),
      stderr: '',
    });

    const after = await instance(B);
    expect(
      statuses([
        await whoami(after, used.apiKey.value),
        await dashboard(after, cookie),
        await me(after, tokens.access_token),
        await me(after, signedIn.access_token),
        await refresh(after, tokens.refresh_token),
        await after.inject({
          method: 'GET',
          url: '/api/v1/cli/whoami',
          headers: { 'x-api-key': idle.apiKey.value },
        }),
      ]),
    ).toEqual([200, 200, 200, 200, 200, 401]);
    // The refresh on `after` spent one token and made two.
    expect((await rotateSecret(B_HEX)).stdout).toBe(
      [
        `${B_ID} newest: 1 key, 2 sessions (5 tokens)`,
        `${A_ID} not listed: 1 key, 0 sessions (0 tokens) made under it no longer work.`,
        `  ${idle.key.id}  ${idle.key.masked}  CLI key`,
        '',
      ].join('\n'),
    );
  });

  it('an older secret nothing depends on any more: rotate-secret says it can be dropped', async () => {
    h = await harness({ engine, secret: B });
    const created = await createApiKey(
      h.store,
      B,
      { email: 'ada@example.com', environment: 'test' },
      h.now(),
    );
    expect(await rotateSecret(`${B_HEX},${A_HEX}`)).toEqual({
      code: 0,
      stdout: `${B_ID} newest: 1 key, 0 sessions (0 tokens)\n${A_ID} older: nothing depends on it any more; it can be dropped.\n`,
      stderr: '',
    });
    const json = await runServer(['rotate-secret', '--db', h.target, '--json'], {
      env: { SEKUIRE_SERVER_SECRET: `${B_HEX},${A_HEX}` },
      now: h.now,
    });
    expect(JSON.parse(json.stdout)).toEqual([
      {
        id: B_ID,
        role: 'newest',
        keys: [{ id: created.key.id, masked: created.key.masked, name: 'CLI key' }],
        sessions: 0,
        tokens: 0,
      },
      { id: A_ID, role: 'older', keys: [], sessions: 0, tokens: 0 },
    ]);
  });
  it('a key from before secret ids were recorded counts under every older secret, and gets its record on use', async () => {
    h = await harness({ engine, secret: A });
    await h.createUser({ email: 'ada@example.com' });
    const old = await createApiKey(h.store, A, { email: 'ada@example.com', environment: 'test' }, h.now());
    await h.sql.run('UPDATE api_keys SET secret_id = NULL WHERE id = ?', [old.key.id]);
    const C_HEX = 'c3'.repeat(32);
    const C_ID = secretId(Buffer.from(C_HEX, 'hex'));
    const unrecorded = `1 key, 0 sessions (0 tokens) still depend on it; dropping it now would revoke 1 key and sign out 0 sessions.\n  ${old.key.id}  ${old.key.masked}  CLI key\n`;
    expect((await rotateSecret(A_HEX)).stdout).toBe(`${A_ID} newest: 1 key, 0 sessions (0 tokens)\n`);
    expect((await rotateSecret(`${B_HEX},${A_HEX},${C_HEX}`)).stdout).toBe(
      `${B_ID} newest: 0 keys, 0 sessions (0 tokens)\n${A_ID} older: ${unrecorded}${C_ID} older: ${unrecorded}`,
    );
    expect((await h.login(old.apiKey.value, FP_A)).statusCode).toBe(200);
    expect((await whoami(await instance(B, [A]), old.apiKey.value)).statusCode).toBe(200);
    expect((await rotateSecret(`${B_HEX},${A_HEX},${C_HEX}`)).stdout).toBe(
      `${B_ID} newest: 1 key, 0 sessions (0 tokens)\n${A_ID} older: nothing depends on it any more; it can be dropped.\n${C_ID} older: nothing depends on it any more; it can be dropped.\n`,
    );
  });

  it('SEKUIRE_SERVER_SECRET with a wrong or repeated secret in the list: one line, exit 2', async () => {
    h = await harness({ engine, secret: B });
    for (const secrets of [`${B_HEX},xyz`, `${B_HEX},${B_HEX}`, `${B_HEX},`]) {
      expect(await rotateSecret(secrets)).toEqual({
        code: 2,
        stdout: '',
        stderr:
          'error: SEKUIRE_SERVER_SECRET must be at least 32 hexadecimal characters (an even number), or several such, newest first, separated by commas; make one with: openssl rand -hex 32\n',
      });
    }
  });
});
