// The dashboard's pages without a browser: redirects, ?next=, headers, cookies, escaping, the key shown once, size.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { safeNext } from '../../packages/server/src/http/pages/dashboard.js';
import { cookiePair, httpsRequest } from '../helpers/https-request.js';
import { selfSignedCert } from '../helpers/tls.js';
import { formSession } from './form-session.js';
import { FP_A, type Harness, type HarnessOptions, harness, PASSWORD } from './harness.js';

let current: Harness | undefined;
afterEach(async () => {
  if (current === undefined) return;
  expect(current.logged).toEqual([]);
  await current.close();
  current = undefined;
});

/** A browser-like session on the current harness. */
const browser = (prefix = '') => formSession(current as Harness, prefix);

const start = async (options: HarnessOptions = {}): Promise<Harness> => {
  current = await harness(options);
  return current;
};

/** `count` wrong passwords for `email` through the API, each from an address of its own; each answers 401. */
async function wrongPasswords(h: Harness, email: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const guess = await h.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: `guess ${i}` },
      remoteAddress: `10.0.0.${i + 1}`,
    });
    expect(guess.statusCode).toBe(401);
  }
}

describe('?next= only leads to a path on this site', () => {
  it.each([
    ['/dashboard/settings?tab=devices', '/dashboard/settings?tab=devices'],
    ['/device?code=ABCD-EFGH', '/device?code=ABCD-EFGH'],
    ['//evil.example/x', '/dashboard/settings?tab=api-keys'],
    ['/\\evil.example', '/dashboard/settings?tab=api-keys'],
    ['https://evil.example/', '/dashboard/settings?tab=api-keys'],
    ['javascript:alert(1)', '/dashboard/settings?tab=api-keys'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
    // Local as written, another host once resolved: what is sent is what is checked.
    ['/.//evil.example', '/dashboard/settings?tab=api-keys'],
    ['/..//evil.example', '/dashboard/settings?tab=api-keys'],
    ['/%2e%2e//evil.example', '/dashboard/settings?tab=api-keys'],
    ['/a/..//evil.example', '/dashboard/settings?tab=api-keys'],
    ['/a/../b', '/b'],
    ['', '/dashboard/settings?tab=api-keys'],
    [undefined, '/dashboard/settings?tab=api-keys'],
  ])('%j -> %j', (next, expected) => {
    expect(safeNext(next)).toBe(expected);
  });
});

describe('pages', () => {
  it('any dashboard URL without a session redirects to /login?next=<that path>', async () => {
    await start();
    for (const url of [
      '/dashboard',
      '/dashboard/settings?tab=api-keys',
      '/dashboard/settings?tab=devices',
      '/dashboard/keys/key_x/revoke',
    ]) {
      const response = await (current as Harness).inject({ method: 'GET', url });
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toBe(`/login?next=${encodeURIComponent(url)}`);
    }
  });

  it('signs in, follows next, and /dashboard leads to the API Keys tab', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = browser();
    await b.get('/login?next=%2Fdashboard%2Fsettings%3Ftab%3Ddevices');
    const signedIn = await b.post('/login', {
      email: 'ada@example.com',
      password: PASSWORD,
      next: '/dashboard/settings?tab=devices',
    });
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers.location).toBe('/dashboard/settings?tab=devices');
    const home = await b.get('/dashboard');
    expect(home.statusCode).toBe(302);
    expect(home.headers.location).toBe('/dashboard/settings?tab=api-keys');
    const keys = await b.get('/dashboard/settings?tab=api-keys');
    expect(keys.statusCode).toBe(200);
    expect(keys.body).toContain('<h1>API Keys</h1>');
    expect(keys.body).toContain('No API keys yet.');
    expect(keys.body).toContain('Sign out');
  });

  it('signing in, or already signed in, nobody is sent off the site by ?next=, however it is spelled', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    for (const next of [
      '/.//evil.example',
      '/..//evil.example',
      '/%2e%2e//evil.example',
      '/a/..//evil.example',
    ]) {
      const b = browser();
      await b.get(`/login?next=${encodeURIComponent(next)}`);
      const form = await b.post('/login', { email: 'ada@example.com', password: PASSWORD, next });
      expect(form.statusCode).toBe(303);
      expect(form.headers.location).toBe('/dashboard/settings?tab=api-keys');
      const page = await b.get(`/login?next=${encodeURIComponent(next)}`);
      expect(page.statusCode).toBe(303);
      expect(page.headers.location).toBe('/dashboard/settings?tab=api-keys');
    }
  });

  it('a wrong password shows "Wrong email or password" and keeps the email', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = browser();
    const wrong = await b.signIn('ada@example.com', 'nope nope nope');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('Wrong email or password');
    expect(wrong.body).toContain('value="ada@example.com"');
    expect(b.session()).toBeUndefined();
  });

  it('the sign-in page and the API count toward one limit per account', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    await wrongPasswords(h, 'ada@example.com', 50);
    const b = browser();
    const limited = await b.signIn('ada@example.com');
    expect(limited.statusCode).toBe(429);
    expect(limited.body).toContain('Too many sign-in attempts.');
    // The one 429: Retry-After in whole seconds, as the API sends it.
    expect(limited.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(b.session()).toBeUndefined();
  });

  it('past the account cap, only a browser that signed in to the account before gets in', async () => {
    const h = await start({ signInLimit: { perAddress: 10, perAccount: 5, windowMs: 60_000 } });
    await h.createUser({ email: 'ada@example.com' });
    await h.createUser({ email: 'bob@example.com' });
    const owner = browser();
    const signedIn = await owner.signIn('ada@example.com');
    expect(signedIn.statusCode).toBe(303);
    const known = signedIn.cookies.find((cookie) => cookie.name === 'sekuire_known');
    expect(known).toEqual({
      name: 'sekuire_known',
      value: expect.stringMatching(/^\d+\.[\w-]{43}$/),
      path: '/',
      maxAge: 180 * 24 * 60 * 60,
      httpOnly: true,
      sameSite: 'Lax',
    });
    await owner.get('/dashboard/settings?tab=api-keys');
    expect((await owner.post('/logout', {})).statusCode).toBe(303);
    const bobsBrowser = browser();
    expect((await bobsBrowser.signIn('bob@example.com')).statusCode).toBe(303);
    await bobsBrowser.get('/dashboard/settings?tab=api-keys');
    expect((await bobsBrowser.post('/logout', {})).statusCode).toBe(303);
    // Guesses from five addresses reach the account's cap of failures.
    await wrongPasswords(h, 'ada@example.com', 5);
    // The right password from a browser the account does not know: closed for now.
    const stranger = browser();
    expect((await stranger.signIn('ada@example.com')).statusCode).toBe(429);
    // Neither does a browser known to another account, nor a mark the server did not make.
    expect((await bobsBrowser.signIn('ada@example.com')).statusCode).toBe(429);
    const forged = await h.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'ada@example.com', password: PASSWORD },
      cookies: { sekuire_known: `${known?.value.split('.')[0]}.${'A'.repeat(43)}` },
    });
    expect(forged.statusCode).toBe(429);
    // The owner's browser gets in.
    const back = await owner.signIn('ada@example.com');
    expect(back.statusCode).toBe(303);
    expect(owner.session()).toMatch(/^sek_ck_/);
    // Its mark lasts 180 days from its last sign-in, then it is a stranger too.
    await owner.get('/dashboard/settings?tab=api-keys');
    expect((await owner.post('/logout', {})).statusCode).toBe(303);
    h.advance(180 * 24 * 60 * 60_000);
    for (let i = 0; i < 5; i++) {
      const guess = await h.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'ada@example.com', password: `guess ${i}` },
        remoteAddress: `10.0.1.${i + 1}`,
      });
      expect(guess.statusCode).toBe(401);
    }
    expect((await owner.signIn('ada@example.com')).statusCode).toBe(429);
  });

  it('a form without its CSRF token is refused with a page that says what to do', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const refused = await (current as Harness).inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `email=ada%40example.com&password=${encodeURIComponent(PASSWORD)}`,
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.headers['content-type']).toContain('text/html');
    expect(refused.body).toContain('This form has expired or did not come from this site.');
    expect(refused.cookies.find((cookie) => cookie.name === 'sekuire_session')).toBeUndefined();
  });

  it('security headers on every page; cookies HttpOnly, SameSite=Lax, Path=/', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = browser();
    const login = await b.get('/login');
    const signedIn = await b.signIn('ada@example.com');
    const page = await b.get('/dashboard/settings?tab=api-keys');
    for (const response of [login, signedIn, page]) {
      expect(response.headers['content-security-policy']).toBe(
        "default-src 'none';script-src 'self';style-src 'self';img-src 'self' data:;connect-src 'self';form-action 'self';frame-ancestors 'none';base-uri 'none'",
      );
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.headers['strict-transport-security']).toBeUndefined();
    }
    const session = signedIn.cookies.find((cookie) => cookie.name === 'sekuire_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(session?.secure).toBeUndefined();
    const csrf = login.cookies.find((cookie) => cookie.name === 'sekuire_csrf');
    expect(csrf).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    // The CLI API stays lean: none of these headers or cookies on the hot path.
    const health = await (current as Harness).inject({ method: 'GET', url: '/api/v1/health' });
    expect(health.headers['content-security-policy']).toBeUndefined();
  });

  it('over TLS the cookies are Secure with the __Host- prefix, and HSTS is sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sekuire-tls-'));
    try {
      const pair = selfSignedCert(dir, ['127.0.0.1']);
      const h = await start({ https: { cert: readFileSync(pair.cert), key: readFileSync(pair.key) } });
      await h.createUser({ email: 'ada@example.com' });
      // A real TLS connection: whether a request came over https is its socket's to say.
      await h.app.listen({ host: '127.0.0.1', port: 0 });
      const origin = `https://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
      const ca = readFileSync(pair.cert);
      const page = await httpsRequest(`${origin}/login`, { ca });
      const csrf = cookiePair(page.setCookie, '__Host-sekuire_csrf');
      expect(page.setCookie).toEqual([
        expect.stringMatching(/^__Host-sekuire_csrf=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/),
      ]);
      expect(page.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
      const signedIn = await httpsRequest(`${origin}/login`, {
        ca,
        method: 'POST',
        headers: { cookie: csrf, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: token, email: 'ada@example.com', password: PASSWORD }).toString(),
      });
      expect(signedIn.status).toBe(303);
      expect(signedIn.setCookie).toEqual([
        expect.stringMatching(
          /^__Host-sekuire_session=sek_ck_\w+; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/,
        ),
        expect.stringMatching(
          /^__Host-sekuire_known=[^;]+; Max-Age=15552000; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
        ),
      ]);
      expect(signedIn.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the new key is in the answer to the form only: the next GET of the page does not contain it', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = browser();
    await b.signIn('ada@example.com');
    const form = await b.get('/dashboard/settings?tab=api-keys&create=1');
    for (const [id, label] of [
      ['key-name', 'Name'],
      ['key-environment', 'Environment'],
      ['key-type', 'Type'],
      ['key-expires', 'Expires'],
    ])
      expect(form.body).toContain(`<label for="${id}">${label}</label>`);
    const created = await b.post('/dashboard/keys', {
      name: 'laptop',
      environment: 'live',
      type: 'client',
      expires: '30',
    });
    expect(created.statusCode).toBe(200);
    const key = /id="new-key" class="mono" readonly value="(sk_live_[0-9A-Za-z]{38})"/.exec(
      created.body,
    )?.[1] as string;
    expect(key).toBeDefined();
    expect(created.body).toContain("you'll only see it once");
    // The login for this server, each word unbreakable (never split at a hyphen).
    expect(created.body).toMatch(
      /Next: run <code><span class="nowrap">sekuire<\/span> <span class="nowrap">login<\/span> <span class="nowrap">--backend<\/span> <span class="nowrap">http:\/\/[^<]+<\/span><\/code> and paste it/,
    );
    expect(created.body).toContain('data-replace-url="/dashboard/settings?tab=api-keys"');
    expect((await h.get('/api/v1/cli/status', key, 'a'.repeat(64))).statusCode).toBe(200);
    const later = await b.get('/dashboard/settings?tab=api-keys');
    expect(later.body).not.toContain(key);
    expect(later.body).not.toContain(key.slice(8, 40));
    expect(later.body).toContain(`${key.slice(0, 11)}...${key.slice(-3)}`);
  });

  it('a choice the form never offers is refused with the form as it was left, never a silent default', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = browser();
    await b.signIn('ada@example.com');
    await b.get('/dashboard/settings?tab=api-keys&create=1');
    const cases: [Record<string, string>, string][] = [
      [
        { name: 'ci', environment: 'live', type: 'client', expires: '7' },
        'Choose when the key expires from the list.',
      ],
      [{ name: 'ci', environment: 'live', type: 'client' }, 'Choose when the key expires from the list.'],
      [
        { name: 'ci', environment: 'prod', type: 'client', expires: '30' },
        'Choose the environment from the list: test or live.',
      ],
      [
        { name: 'ci', environment: 'live', type: 'admin', expires: '30' },
        'Choose the type from the list: client or server.',
      ],
      [{ name: '   ', environment: 'live', type: 'server', expires: '365' }, 'Give the key a name.'],
      [
        { name: 'x'.repeat(201), environment: 'live', type: 'client', expires: '30' },
        'The name must be at most 200 characters.',
      ],
      [
        { name: 'ci\u202egnp', environment: 'live', type: 'client', expires: '30' },
        'The name must not contain control or invisible characters (line breaks, bidi controls, zero-width characters).',
      ],
      [{ name: '\u3164\u2800 ', environment: 'live', type: 'client', expires: '30' }, 'Give the key a name.'],
      [
        {
          name: 'ci',
          environment: 'live',
          type: 'client',
          expires: '30',
          permissions: 'deploy:write Deploy',
        },
        'Permissions: &quot;Deploy&quot; is not a permission: 1 to 64 characters of a-z 0-9 _ . : - starting with a letter or digit.',
      ],
    ];
    for (const [fields, message] of cases) {
      const refused = await b.post('/dashboard/keys', fields);
      expect(refused.statusCode).toBe(400);
      expect(refused.body).toContain(`<p class="alert alert-error" role="alert">${message}</p>`);
      expect(refused.body).not.toMatch(/readonly value="sk_/);
    }
    // What was valid comes back chosen: the last case kept live, client and 30 days.
    const last = await b.post('/dashboard/keys', {
      name: '  ',
      environment: 'live',
      type: 'server',
      expires: '365',
    });
    expect(last.body).toContain('<option value="live" selected>live</option>');
    expect(last.body).toContain('<option value="server" selected>server</option>');
    expect(last.body).toContain('<option value="365" selected>1 year</option>');
    expect(last.body).toContain('value="  "');
    expect(await h.store.read.keys.list()).toEqual([]);

    const created = await b.post('/dashboard/keys', {
      name: 'ci',
      environment: 'test',
      type: 'client',
      expires: '30',
    });
    expect(created.statusCode).toBe(200);
    const id = (await h.store.read.keys.list())[0]?.id as string;
    const roll = await b.post(`/dashboard/keys/${id}/roll`, { grace: '5' });
    expect(roll.statusCode).toBe(400);
    expect(roll.body).toContain('Choose from the list how long the old key keeps working.');
    expect(roll.body).toContain('Roll this key?');
    const keys = await h.store.read.keys.list();
    expect(keys.map((key) => [key.id, key.revoked_at])).toEqual([[id, null]]);
    const missing = await b.post('/dashboard/keys/key_nosuchkey/roll', { grace: '5' });
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toContain('<title>Not found');
    expect(missing.body).toContain('<h1>Not found</h1>');
    // An error page says what kind of error it is, not just "something went wrong".
    await b.post(`/dashboard/keys/${id}/revoke`, {});
    const stale = await b.post(`/dashboard/keys/${id}/roll`, { grace: '0' });
    expect(stale.statusCode).toBe(409);
    expect(stale.body).toContain('<h1>That cannot be done now</h1>');
    expect(stale.body).toContain('<p>Only an active key can be rolled.</p>');
  });

  it('permissions typed in the Create form are the key permissions, shown on its row', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = browser();
    await b.signIn('ada@example.com');
    const form = await b.get('/dashboard/settings?tab=api-keys&create=1');
    expect(form.body).toContain('<label for="key-permissions">Permissions</label>');
    const created = await b.post('/dashboard/keys', {
      name: 'svc',
      environment: 'live',
      type: 'server',
      expires: '30',
      permissions: ' verify, deploy:write  verify ',
    });
    expect(created.statusCode).toBe(200);
    const keys = await h.store.read.keys.list();
    expect(keys.map((key) => [key.name, key.permissions])).toEqual([['svc', ['verify', 'deploy:write']]]);
    const list = (await b.get('/dashboard/settings?tab=api-keys')).body;
    expect(list).toContain(
      '<td data-label="Type">server<div class="sub">permissions: verify, deploy:write</div></td>',
    );
  });

  it('a rolling key can be revoked before its grace period ends, not rolled again', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = browser();
    await b.signIn('ada@example.com');
    await b.get('/dashboard/settings?tab=api-keys&create=1');
    await b.post('/dashboard/keys', { name: 'ci', environment: 'test', type: 'client', expires: '30' });
    const oldId = (await h.store.read.keys.list())[0]?.id as string;
    const rolled = await b.post(`/dashboard/keys/${oldId}/roll`, { grace: '86400' });
    const fresh = /readonly value="(sk_test_\w+)"/.exec(rolled.body)?.[1] as string;
    const list = (await b.get('/dashboard/settings?tab=api-keys')).body;
    expect(list.match(/aria-label="Roll ci"/g)).toHaveLength(1);
    expect(list.match(/aria-label="Revoke ci"/g)).toHaveLength(1);
    expect(list).toContain(
      `action="/dashboard/keys/${oldId}/revoke"><button type="submit" class="button button-small button-danger" aria-label="Revoke ci (rolling)">Revoke</button>`,
    );
    expect(list).not.toContain(`/dashboard/keys/${oldId}/roll"`);
    const confirm = await b.get(`/dashboard/keys/${oldId}/revoke`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain(
      'This key was rolled: it would have kept working until 2030-01-02 00:00 UTC. Revoking ends that now; the key that replaced it is not affected.',
    );
    expect((await b.post(`/dashboard/keys/${oldId}/revoke`, {})).statusCode).toBe(303);
    const keys = await h.store.read.keys.list();
    expect(keys.find((key) => key.id === oldId)?.revoked_at).not.toBeNull();
    // The new key is untouched.
    expect((await h.get('/api/v1/cli/status', fresh, 'a'.repeat(64))).statusCode).toBe(200);
  });

  it('escapes what people type: a key named like markup is shown as text', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = browser();
    await b.signIn('ada@example.com');
    await b.get('/dashboard/settings?tab=api-keys&create=1');
    await b.post('/dashboard/keys', {
      name: '<script>alert(1)</script>"\'&',
      environment: 'test',
      type: 'client',
      expires: 'never',
    });
    const page = await b.get('/dashboard/settings?tab=api-keys');
    expect(page.body).not.toContain('<script>alert(1)</script>');
    expect(page.body).toMatch(/&lt;script&gt;alert\(1\)&lt;\/script&gt;&(quot|#34);&(#39|#x27);&amp;/);
  });

  it('L9: a device or key name stored before the text rule shows its invisible characters escaped, never raw', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const created = await h.createKey({ email: 'ada@example.com', keyName: 'deploy' });
    expect((await h.login(created.apiKey.value, FP_A)).statusCode).toBe(200);
    await h.sql.run('UPDATE api_keys SET name = ? WHERE id = ?', ['deploy\u202egnp.exe', created.key.id]);
    await h.sql.run('UPDATE devices SET name = ? WHERE key_id = ?', ['lap\u200btop\u2028', created.key.id]);
    const b = browser();
    await b.signIn('ada@example.com');
    const keys = await b.get('/dashboard/settings?tab=api-keys');
    const devices = await b.get('/dashboard/settings?tab=devices');
    for (const page of [keys, devices]) expect(page.body).not.toMatch(/[\u202e\u200b\u2028]/);
    expect(keys.body).toContain('<td data-label="Name" class="strong wrap">deploy\\u{202E}gnp.exe</td>');
    expect(devices.body).toContain(
      '<td data-label="Device" class="strong wrap">lap\\u{200B}top\\u{2028}</td>',
    );
  });

  it('revoke asks first, then revokes; roll shows the new key once; unbind; sign out ends the session', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = browser();
    await b.signIn('ada@example.com');
    await b.get('/dashboard/settings?tab=api-keys&create=1');
    const created = await b.post('/dashboard/keys', {
      name: 'ci',
      environment: 'test',
      type: 'client',
      expires: '90',
    });
    const key = /readonly value="(sk_test_\w+)"/.exec(created.body)?.[1] as string;
    expect((await h.login(key, 'a'.repeat(64))).statusCode).toBe(200);
    const id = (await h.store.read.keys.list())[0]?.id as string;
    const confirm = await b.get(`/dashboard/keys/${id}/roll`);
    expect(confirm.body).toContain('Keep the old key working for');
    const rolled = await b.post(`/dashboard/keys/${id}/roll`, { grace: '3600' });
    const fresh = /readonly value="(sk_test_\w+)"/.exec(rolled.body)?.[1] as string;
    expect(fresh).not.toBe(key);
    expect(rolled.body).toContain('keeps working until');
    const newId = (await h.store.read.keys.list()).find((row) => row.id !== id)?.id as string;
    const ask = await b.get(`/dashboard/keys/${newId}/revoke`);
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('Revoke key</button>');
    const revoked = await b.post(`/dashboard/keys/${newId}/revoke`, {});
    expect(revoked.statusCode).toBe(303);
    expect(revoked.headers.location).toBe('/dashboard/settings?tab=api-keys&done=revoked');
    expect((await h.get('/api/v1/cli/status', fresh, 'a'.repeat(64))).json().error).toBe('key_revoked');

    const devices = await b.get('/dashboard/settings?tab=devices');
    expect(devices.body).toContain('<h1>Devices</h1>');
    const deviceId = /action="\/dashboard\/devices\/(dev_\w+)\/unbind"/.exec(devices.body)?.[1] as string;
    const unbound = await b.post(`/dashboard/devices/${deviceId}/unbind`, {});
    expect(unbound.headers.location).toBe('/dashboard/settings?tab=devices&done=unbound');
    expect((await b.get('/dashboard/settings?tab=devices')).body).toContain('No bound devices.');

    const session = b.session();
    const out = await b.post('/logout', {});
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/login');
    expect(b.session()).toBeUndefined();
    // The old cookie value is dead on the server too.
    const replay = await (current as Harness).inject({
      method: 'GET',
      url: '/dashboard/settings?tab=api-keys',
      cookies: { sekuire_session: session ?? '' },
    });
    expect(replay.statusCode).toBe(303);
  });

  it('another organization cannot even open the confirm page of a key', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    await h.createUser({ email: 'eve@example.com' });
    const { key } = await h.createKey({ email: 'ada@example.com' });
    const b = browser();
    await b.signIn('eve@example.com');
    const page = await b.get(`/dashboard/keys/${key.id}/revoke`);
    expect(page.statusCode).toBe(404);
    const post = await b.post(`/dashboard/keys/${key.id}/revoke`, {});
    expect(post.statusCode).toBe(404);
    expect((await h.store.read.keys.byId(key.id))?.revoked_at).toBeNull();
  });

  it('1,000 keys: pages of 50, each page well under 150 KB', async () => {
    const h = await start();
    const ada = await h.createUser({ email: 'ada@example.com' });
    await h.store.transaction(async (tx) => {
      const workspace = await tx.accounts.ensureWorkspace(
        { id: 'ws_bulk', name: 'Default' },
        ada.organization.id,
        h.now().toISOString(),
      );
      for (let i = 0; i < 1000; i++) {
        await tx.keys.insert({
          id: `key_${String(i).padStart(16, '0')}`,
          digest: Buffer.alloc(32, i % 256).fill(Math.floor(i / 256), 0, 1),
          secret_id: '00000000',
          masked: 'sk_test_abc...xyz',
          environment: 'test',
          type: 'client',
          name: `key number ${i}`,
          user_id: ada.user.id,
          workspace_id: workspace.id,
          created_at: new Date(h.now().getTime() + i).toISOString(),
          expires_at: null,
          revoked_at: null,
        });
      }
    });
    const b = browser();
    await b.signIn('ada@example.com');
    const first = await b.get('/dashboard/settings?tab=api-keys');
    expect(first.body).toContain('Showing 1–50 of 1000');
    expect(Buffer.byteLength(first.body)).toBeLessThan(150 * 1024);
    expect(first.body.match(/<tr>/g)).toHaveLength(51);
    const last = await b.get('/dashboard/settings?tab=api-keys&page=20');
    expect(last.body).toContain('Showing 951–1000 of 1000');
    const beyond = await b.get('/dashboard/settings?tab=api-keys&page=99');
    expect(beyond.body).toContain('Showing 951–1000 of 1000');
  });
});
