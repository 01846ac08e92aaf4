// Browser and device-code login on the server: approval pages, one-time codes, PKCE, polling rules.
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { forEachEngine } from '../helpers/engines.js';
import { formSession } from './form-session.js';
import { deviceBody, FP_A, FP_B, type Harness, harness } from './harness.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** What an approval page's selects send untouched: the one default for a new key (test, 90 days). */
const PRESELECTED = { environment: 'test', expires: '90' };

/** A select's option values in order, the selected one marked with a star. */
function selectOptions(html: string, name: string): string[] {
  const select = new RegExp(`<select [^>]*name="${name}"[^>]*>(.*?)</select>`, 's').exec(html)?.[1] ?? '';
  return [...select.matchAll(/<option value="([^"]*)"( selected)?>/g)].map(
    ([, value, selected]) => `${value}${selected ? '*' : ''}`,
  );
}

forEachEngine((engine) => {
  let h: Harness;
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  /** A signed-in browser (through the sign-in form). */
  async function browser(email = 'ada@example.com') {
    await h.createUser({ email });
    const session = formSession(h);
    expect((await session.signIn(email)).statusCode).toBe(303);
    return session;
  }

  /** Signed, as the CLI does, by the device key of the device the body names (if it names one). */
  const token = (payload: object) => {
    const fingerprint = (payload as { device?: { fingerprint: string } }).device?.fingerprint;
    return h.post(
      '/api/v1/cli/token',
      payload,
      fingerprint === undefined ? {} : { device: h.deviceKey(fingerprint) },
    );
  };

  const grantCount = async () =>
    Number((await h.sql.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM cli_grants'))?.n);

  function pkce() {
    const verifier = randomBytes(32).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
  }

  function authorizeQuery(redirect: string, challenge: string, state = 'st4te-xyz') {
    return new URLSearchParams({
      redirect_uri: redirect,
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      // The device the exchanges below name (deviceBody(FP_A)), as the CLI's link does.
      device_name: 'host-aaaa',
      device_os: 'linux',
      confirm: 'MAPLE-OTTER',
      fingerprint: FP_A.slice(0, 12),
    });
  }

  describe('loopback redirect with PKCE', () => {
    it('approve on the page, then exchange the code once for a new key bound to this device', async () => {
      h = await harness({ engine });
      const b = await browser();
      const { verifier, challenge } = pkce();
      const redirect = 'http://127.0.0.1:49152/cb/r4nd0m';
      const query = authorizeQuery(redirect, challenge);
      const page = await b.get(`/cli/authorize?${query}`);
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('MAPLE-OTTER');
      expect(page.body).toContain('host-aaaa');
      expect(page.body).toContain('<dt>OS</dt><dd>linux</dd>');
      // The CLI's extensions: shown when present, cleaned, and carried through the form.
      const detailed = await b.get(
        `/cli/authorize?${query}&device_os_version=${encodeURIComponent('Debian 13\u202e')}&device_arch=%00%07`,
      );
      expect(detailed.body).toContain('<dt>OS</dt><dd>linux · Debian 13</dd>');
      expect(detailed.body).toContain('<input type="hidden" name="device_os_version" value="Debian 13');
      expect(page.body).toMatch(
        /<button type="submit" name="decision" value="authorize"[^>]*>Authorize<\/button>/,
      );
      // Only the listener's address: Chromium calls an IPv6 source invalid (a console error).
      expect(page.headers['content-security-policy']).toContain("form-action 'self' http://127.0.0.1:*;");

      const approved = await b.post('/cli/authorize', {
        ...Object.fromEntries(query),
        ...PRESELECTED,
        decision: 'authorize',
      });
      expect(approved.statusCode).toBe(303);
      const location = new URL(approved.headers.location as string);
      expect(`${location.origin}${location.pathname}`).toBe(redirect);
      expect(location.searchParams.get('state')).toBe('st4te-xyz');
      const code = location.searchParams.get('code') as string;
      expect(code).toMatch(/^[0-9A-Za-z]{43}$/);

      const exchanged = await token({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: redirect,
        ...deviceBody(FP_A),
      });
      expect(exchanged.statusCode).toBe(200);
      const body = exchanged.json();
      // The one default for a new key: test, 90 days.
      expect(body.api_key).toMatch(/^sk_test_[0-9A-Za-z]{38}$/);
      expect(body.key).toMatchObject({
        name: 'CLI on host-aaaa',
        environment: 'test',
        expires_at: new Date(h.now().getTime() + 90 * 86_400_000).toISOString(),
      });
      expect(body.user.email).toBe('ada@example.com');
      expect(body.device).toMatchObject({ fingerprint: FP_A, rebound: false });
      // The login was the key's first use: "Last used" is not "never".
      const minted = await h.store.read.keys.visibleKey(body.user.id, body.key.id);
      expect(minted?.last_used_at).toBe(h.now().toISOString());
      // The new key works from this device and is bound to it.
      expect((await h.get('/api/v1/cli/status', body.api_key, FP_A)).statusCode).toBe(200);
      expect((await h.get('/api/v1/cli/status', body.api_key, FP_B)).statusCode).toBe(409);
      const again = await token({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: redirect,
        ...deviceBody(FP_A),
      });
      expect(again.statusCode).toBe(400);
      expect(again.json()).toEqual({ error: 'invalid_grant', message: 'The code was already used.' });
      const trail = (await h.store.read.audit.list()).map((event) => event.event);
      expect(trail).toEqual(expect.arrayContaining(['cli_approve', 'create', 'bind']));
      expect(JSON.stringify(await h.store.read.audit.list())).not.toContain(code);
    });

    it('a wrong verifier, another redirect_uri, or 60 s: the code is refused', async () => {
      h = await harness({ engine });
      const b = await browser();
      const redirect = 'http://127.0.0.1:50000/cb';
      const codeFor = async () => {
        const { verifier, challenge } = pkce();
        const query = authorizeQuery(redirect, challenge);
        await b.get(`/cli/authorize?${query}`);
        const approved = await b.post('/cli/authorize', {
          ...Object.fromEntries(query),
          ...PRESELECTED,
          decision: 'authorize',
        });
        return {
          verifier,
          code: new URL(approved.headers.location as string).searchParams.get('code') as string,
        };
      };
      const first = await codeFor();
      const wrongVerifier = await token({
        grant_type: 'authorization_code',
        code: first.code,
        code_verifier: pkce().verifier,
        redirect_uri: redirect,
        ...deviceBody(FP_A),
      });
      expect(wrongVerifier.json()).toEqual({
        error: 'invalid_grant',
        message: 'The code_verifier does not match the code_challenge.',
      });
      const otherRedirect = await token({
        grant_type: 'authorization_code',
        code: first.code,
        code_verifier: first.verifier,
        redirect_uri: 'http://127.0.0.1:50001/cb',
        ...deviceBody(FP_A),
      });
      expect(otherRedirect.json().message).toBe(
        'The redirect_uri does not match the one the code was issued for.',
      );
      const second = await codeFor();
      h.advance(60_000);
      const late = await token({
        grant_type: 'authorization_code',
        code: second.code,
        code_verifier: second.verifier,
        redirect_uri: redirect,
        ...deviceBody(FP_A),
      });
      expect(late.json().message).toBe('The code has expired.');
      const unknown = await token({
        grant_type: 'authorization_code',
        code: 'x'.repeat(43),
        code_verifier: second.verifier,
        redirect_uri: redirect,
        ...deviceBody(FP_A),
      });
      expect(unknown.json()).toEqual({ error: 'invalid_grant', message: 'The code is not valid.' });
    });

    it('the exchange binds only the device the page showed: other facts are refused (L6)', async () => {
      h = await harness({ engine });
      const b = await browser();
      const redirect = 'http://127.0.0.1:50000/cb';
      const { verifier, challenge } = pkce();
      const query = authorizeQuery(redirect, challenge);
      query.set('device_os_version', 'Debian 12');
      query.set('device_arch', 'x64');
      expect((await b.get(`/cli/authorize?${query}`)).statusCode).toBe(200);
      const approved = await b.post('/cli/authorize', {
        ...Object.fromEntries(query),
        ...PRESELECTED,
        decision: 'authorize',
      });
      const code = new URL(approved.headers.location as string).searchParams.get('code') as string;
      const exchange = (body: ReturnType<typeof deviceBody>) =>
        token({
          grant_type: 'authorization_code',
          code,
          code_verifier: verifier,
          redirect_uri: redirect,
          ...body,
        });
      const same = deviceBody(FP_A).device;
      const others = [
        deviceBody(FP_B),
        { device: { ...same, fingerprint: FP_B } },
        { device: { ...same, name: 'someone-else' } },
        { device: { ...same, os: 'darwin' } },
        { device: { ...same, os_version: 'Debian 13' } },
        { device: { ...same, arch: 'arm64' } },
      ];
      for (const other of others) {
        const refused = await exchange(other);
        expect(refused.statusCode).toBe(400);
        expect(refused.json()).toEqual({
          error: 'invalid_grant',
          message: 'The device is not the one approved in the browser.',
        });
      }
      expect(await h.store.read.keys.list()).toEqual([]);
      const granted = await exchange(deviceBody(FP_A));
      expect(granted.statusCode).toBe(200);
      expect(granted.json().device).toMatchObject({ fingerprint: FP_A, name: 'host-aaaa' });
    });

    it('the approver chooses the key: the one default preselected; live and 30 days are what the CLI gets, audited', async () => {
      h = await harness({ engine });
      const b = await browser();
      const { verifier, challenge } = pkce();
      const redirect = 'http://127.0.0.1:49152/cb';
      const query = authorizeQuery(redirect, challenge);
      const page = await b.get(`/cli/authorize?${query}`);
      // The dashboard's choices, the one default selected.
      expect(selectOptions(page.body, 'environment')).toEqual(['test*', 'live']);
      expect(selectOptions(page.body, 'expires')).toEqual(['30', '90*', '365', 'never']);
      const approved = await b.post('/cli/authorize', {
        ...Object.fromEntries(query),
        environment: 'live',
        expires: '30',
        decision: 'authorize',
      });
      expect(approved.statusCode).toBe(303);
      const code = new URL(approved.headers.location as string).searchParams.get('code') as string;
      const exchanged = await token({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: redirect,
        ...deviceBody(FP_A),
      });
      expect(exchanged.statusCode).toBe(200);
      expect(exchanged.json().api_key).toMatch(/^sk_live_[0-9A-Za-z]{38}$/);
      expect(exchanged.json().key).toMatchObject({
        environment: 'live',
        expires_at: new Date(h.now().getTime() + 30 * 86_400_000).toISOString(),
      });
      const approval = (await h.store.read.audit.list()).find((event) => event.event === 'cli_approve');
      expect(approval?.detail).toEqual({
        grant_id: expect.stringMatching(/^grant_/),
        flow: 'loopback',
        os: 'linux',
        environment: 'live',
        expires_in_days: 30,
      });
    });

    it.each([
      [
        { environment: 'prod', expires: '30' },
        'Choose the environment from the list: test or live.',
        ['test*', 'live'],
        ['30*', '90', '365', 'never'],
      ],
      [
        { environment: 'live', expires: '7' },
        'Choose when the key expires from the list.',
        ['test', 'live*'],
        ['30', '90*', '365', 'never'],
      ],
      [
        { environment: 'live' },
        'Choose when the key expires from the list.',
        ['test', 'live*'],
        ['30', '90*', '365', 'never'],
      ],
    ])(
      'a value the page never offers (%j) is refused with the page as it was left; nothing is approved',
      async (chosen, message, environments, expiries) => {
        h = await harness({ engine });
        const b = await browser();
        const query = authorizeQuery('http://127.0.0.1:40000/cb', pkce().challenge);
        await b.get(`/cli/authorize?${query}`);
        const refused = await b.post('/cli/authorize', {
          ...Object.fromEntries(query),
          ...chosen,
          decision: 'authorize',
        });
        expect(refused.statusCode).toBe(400);
        expect(refused.headers.location).toBeUndefined();
        expect(refused.body).toContain(`<p class="alert alert-error" role="alert">${message}</p>`);
        expect(selectOptions(refused.body, 'environment')).toEqual(environments);
        expect(selectOptions(refused.body, 'expires')).toEqual(expiries);
        // The login link is carried again, so the person can choose and authorize from here.
        expect(refused.body).toContain('<input type="hidden" name="confirm" value="MAPLE-OTTER">');
        expect(refused.headers['content-security-policy']).toContain(
          "form-action 'self' http://127.0.0.1:*;",
        );
        expect(await grantCount()).toBe(0);
        expect((await h.store.read.audit.list()).map((event) => event.event)).not.toContain('cli_approve');
      },
    );

    it('deny redirects back with error=access_denied and the state; nothing is issued', async () => {
      h = await harness({ engine });
      const b = await browser();
      const query = authorizeQuery('http://127.0.0.1:40000/cb', pkce().challenge, 'the-state');
      await b.get(`/cli/authorize?${query}`);
      const denied = await b.post('/cli/authorize', { ...Object.fromEntries(query), decision: 'deny' });
      expect(denied.statusCode).toBe(303);
      expect(denied.headers.location).toBe('http://127.0.0.1:40000/cb?error=access_denied&state=the-state');
      expect((await h.store.read.audit.list()).map((event) => event.event)).toContain('cli_deny');
      expect(await h.store.read.keys.list()).toEqual([]);
    });

    it.each([
      ['https://127.0.0.1:4000/cb'],
      ['http://localhost:4000/cb'],
      ['http://evil.example:4000/cb'],
      ['http://127.0.0.1/cb'],
      ['http://user@127.0.0.1:4000/cb'],
      ['http://127.0.0.2:4000/cb'],
      // CSP cannot name an IPv6 address: Chromium would block the redirect after the approval.
      ['http://[::1]:4000/cb'],
      ['not a url'],
    ])('redirect_uri %j is refused with a page, never redirected to', async (redirect) => {
      h = await harness({ engine });
      const b = await browser();
      const query = authorizeQuery(redirect, pkce().challenge);
      const page = await b.get(`/cli/authorize?${query}`);
      expect(page.statusCode).toBe(400);
      expect(page.headers.location).toBeUndefined();
      expect(page.body).toContain('This login link is not valid');
      const posted = await b.post('/cli/authorize', {
        ...Object.fromEntries(query),
        ...PRESELECTED,
        decision: 'authorize',
      });
      expect(posted.statusCode).toBe(400);
      expect(posted.headers.location).toBeUndefined();
    });

    it('without a session the page sends the person to sign in and back; a GET never approves', async () => {
      h = await harness({ engine });
      const query = authorizeQuery('http://127.0.0.1:40000/cb', pkce().challenge);
      const page = await h.inject({ method: 'GET', url: `/cli/authorize?${query}` });
      expect(page.statusCode).toBe(303);
      expect(page.headers.location).toBe(`/login?next=${encodeURIComponent(`/cli/authorize?${query}`)}`);
      const approveByGet = await h.inject({
        method: 'GET',
        url: `/cli/authorize?${query}&decision=authorize`,
      });
      expect(approveByGet.statusCode).toBe(303);
      expect(approveByGet.headers.location).toMatch(/^\/login/);
    });
  });

  describe('device authorization grant', () => {
    const startDevice = async () => {
      const response = await h.post('/api/v1/cli/device/code', deviceBody(FP_B), {
        device: h.deviceKey(FP_B),
      });
      expect(response.statusCode).toBe(200);
      return response.json() as {
        device_code: string;
        user_code: string;
        verification_uri: string;
        verification_uri_complete: string;
        expires_in: number;
        interval: number;
      };
    };
    /** Signed, as the CLI does, by the device key the code was asked for. */
    const poll = (deviceCode: string) =>
      h.post(
        '/api/v1/cli/token',
        { grant_type: DEVICE_GRANT, device_code: deviceCode },
        { device: h.deviceKey(FP_B) },
      );

    it('code, pending, slow_down, approve on /device, then the key once', async () => {
      h = await harness({ engine });
      const started = await startDevice();
      expect(started).toEqual({
        device_code: expect.stringMatching(/^[0-9A-Za-z]{43}$/),
        user_code: expect.stringMatching(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/),
        verification_uri: 'http://localhost:80/device',
        verification_uri_complete: `http://localhost:80/device?code=${started.user_code}`,
        expires_in: 900,
        interval: 5,
      });
      expect((await poll(started.device_code)).json().error).toBe('authorization_pending');
      // Asking again within the interval: slow down.
      h.advance(1_000);
      expect((await poll(started.device_code)).json().error).toBe('slow_down');
      h.advance(3_999);
      expect((await poll(started.device_code)).json().error).toBe('slow_down');
      // The interval after the last poll that counted (an early one does not count).
      h.advance(1);
      expect((await poll(started.device_code)).json().error).toBe('authorization_pending');

      const b = await browser();
      const enter = await b.get('/device');
      expect(enter.body).toContain('<span>Code</span>');
      expect(enter.body).toContain('Continue</button>');
      const typed = started.user_code.toLowerCase().replace('-', ' ');
      const confirm = await b.get(`/device?code=${encodeURIComponent(typed)}`);
      expect(confirm.statusCode).toBe(200);
      expect(confirm.body).toContain('host-bbbb');
      expect(confirm.body).toContain(FP_B.slice(0, 12));
      expect(confirm.body).toContain('127.0.0.1');
      const grant = /name="grant" value="(grant_\w+)"/.exec(confirm.body)?.[1] as string;
      const approved = await b.post('/device', {
        grant,
        code: started.user_code,
        ...PRESELECTED,
        decision: 'authorize',
      });
      expect(approved.statusCode).toBe(200);
      expect(approved.body).toContain('Device authorized');

      h.advance(15_000);
      const granted = await poll(started.device_code);
      expect(granted.statusCode).toBe(200);
      const body = granted.json();
      expect(body.api_key).toMatch(/^sk_test_/);
      expect(body.key.name).toBe('CLI on host-bbbb');
      expect(body.device.fingerprint).toBe(FP_B);
      expect((await h.get('/api/v1/cli/status', body.api_key, FP_B)).statusCode).toBe(200);
      h.advance(15_000);
      const again = await poll(started.device_code);
      expect(again.json()).toEqual({ error: 'invalid_grant', message: 'The device code was already used.' });
      // The code cannot be approved twice either.
      expect(
        (await b.post('/device', { grant, code: started.user_code, ...PRESELECTED, decision: 'authorize' }))
          .statusCode,
      ).toBe(404);
    });

    it('the approver chooses on /device: a value never offered is refused, the code still pending; live, never is what the device gets', async () => {
      h = await harness({ engine });
      const started = await startDevice();
      const b = await browser();
      const confirm = await b.get(`/device?code=${started.user_code}`);
      expect(selectOptions(confirm.body, 'environment')).toEqual(['test*', 'live']);
      expect(selectOptions(confirm.body, 'expires')).toEqual(['30', '90*', '365', 'never']);
      const grant = /name="grant" value="(grant_\w+)"/.exec(confirm.body)?.[1] as string;
      const refused = await b.post('/device', {
        grant,
        code: started.user_code,
        environment: 'live',
        expires: '3650',
        decision: 'authorize',
      });
      expect(refused.statusCode).toBe(400);
      expect(refused.body).toContain(
        '<p class="alert alert-error" role="alert">Choose when the key expires from the list.</p>',
      );
      expect(selectOptions(refused.body, 'environment')).toEqual(['test', 'live*']);
      expect(refused.body).toContain(`<input type="hidden" name="grant" value="${grant}">`);
      expect((await h.store.read.audit.list()).map((event) => event.event)).not.toContain('cli_approve');
      expect((await poll(started.device_code)).json().error).toBe('authorization_pending');
      const approved = await b.post('/device', {
        grant,
        code: started.user_code,
        environment: 'live',
        expires: 'never',
        decision: 'authorize',
      });
      expect(approved.statusCode).toBe(200);
      h.advance(5_000);
      const granted = await poll(started.device_code);
      expect(granted.statusCode).toBe(200);
      expect(granted.json().api_key).toMatch(/^sk_live_/);
      expect(granted.json().key).toMatchObject({ environment: 'live', expires_at: null });
      const approval = (await h.store.read.audit.list()).find((event) => event.event === 'cli_approve');
      expect(approval?.detail).toMatchObject({ flow: 'device', environment: 'live', expires_in_days: null });
    });

    it('a grant approved before the choice existed (no environment stored) gets the one default: test, 90 days', async () => {
      h = await harness({ engine });
      const started = await startDevice();
      const b = await browser();
      const confirm = await b.get(`/device?code=${started.user_code}`);
      const grant = /name="grant" value="(grant_\w+)"/.exec(confirm.body)?.[1] as string;
      await b.post('/device', {
        grant,
        code: started.user_code,
        environment: 'live',
        expires: '30',
        decision: 'authorize',
      });
      // As migration 13 leaves a grant approved by an older server.
      await h.sql.run(
        'UPDATE cli_grants SET key_environment = NULL, key_expires_in_days = NULL WHERE id = ?',
        [grant],
      );
      h.advance(5_000);
      const granted = await poll(started.device_code);
      expect(granted.json().key).toMatchObject({
        environment: 'test',
        expires_at: new Date(h.now().getTime() + 90 * 86_400_000).toISOString(),
      });
    });

    it('L7: a device that asked from another network than the approving browser is flagged, prominently', async () => {
      h = await harness({ engine });
      const asked = await h.post('/api/v1/cli/device/code', deviceBody(FP_B), {
        device: h.deviceKey(FP_B),
        remoteAddress: '203.0.113.9',
      });
      const b = await browser();
      const elsewhere = await b.get(`/device?code=${asked.json().user_code}`);
      expect(elsewhere.statusCode).toBe(200);
      const warning = /<div class="alert alert-error" role="alert">\s*<p>(.*?)<\/p>/s.exec(
        elsewhere.body,
      )?.[1];
      expect(warning).toBe(
        '<strong>This request comes from another network than this browser.</strong> The device asked from <span class="mono">203.0.113.9</span>; you are at <span class="mono">127.0.0.1</span>.',
      );
      // Asked from the approver's own network: the facts, without the warning.
      const here = await startDevice();
      const same = await b.get(`/device?code=${here.user_code}`);
      expect(same.body).not.toContain('role="alert"');
      expect(same.body).toContain('<dt>Client address</dt><dd class="mono">127.0.0.1</dd>');
      // An IPv6 client is its /64, as the limits count it.
      const { sameNetwork } = await import('../../packages/server/src/http/pages/approval-pages.js');
      expect([
        sameNetwork('2001:db8:1:2::10', '2001:db8:1:2:aaaa::1'),
        sameNetwork('2001:db8:1:3::10', '2001:db8:1:2::10'),
        sameNetwork('::ffff:192.0.2.1', '192.0.2.1'),
        sameNetwork(null, '192.0.2.1'),
      ]).toEqual([true, false, true, false]);
    });

    it('a poll must be signed by the device key the code was asked for (L8)', async () => {
      h = await harness({ engine });
      const started = await startDevice();
      const b = await browser();
      const confirm = await b.get(`/device?code=${started.user_code}`);
      const grant = /name="grant" value="(grant_\w+)"/.exec(confirm.body)?.[1] as string;
      expect(
        (await b.post('/device', { grant, code: started.user_code, ...PRESELECTED, decision: 'authorize' }))
          .statusCode,
      ).toBe(200);
      // Whoever read the device code (a screen, a log) but holds another key, or none, gets nothing.
      const payload = { grant_type: DEVICE_GRANT, device_code: started.device_code };
      const unsigned = await h.post('/api/v1/cli/token', payload);
      expect(unsigned.statusCode).toBe(401);
      expect(unsigned.json().error).toBe('proof_required');
      const otherKey = await h.post('/api/v1/cli/token', payload, { device: h.deviceKey(FP_A) });
      expect(otherKey.statusCode).toBe(401);
      expect(otherKey.json().error).toBe('invalid_proof');
      expect((await h.store.read.keys.list()).length).toBe(0);
      // The device that asked still gets its key.
      const granted = await poll(started.device_code);
      expect(granted.statusCode).toBe(200);
      expect(granted.json().device.fingerprint).toBe(FP_B);
    });

    it('a poll too soon answers slow_down and writes nothing', async () => {
      h = await harness({ engine });
      const started = await startDevice();
      const row = () =>
        h.sql.get('SELECT last_polled_at, interval_seconds FROM cli_grants WHERE user_code = ?', [
          started.user_code,
        ]);
      expect((await poll(started.device_code)).json().error).toBe('authorization_pending');
      const recorded = await row();
      expect(recorded).toEqual({ last_polled_at: h.now().toISOString(), interval_seconds: 5 });
      for (let i = 0; i < 40; i++) {
        h.advance(100);
        expect((await poll(started.device_code)).json().error).toBe('slow_down');
      }
      expect(await row()).toEqual(recorded);
      h.advance(1_000);
      expect((await poll(started.device_code)).json().error).toBe('authorization_pending');
      expect(await row()).toEqual({ last_polled_at: h.now().toISOString(), interval_seconds: 5 });
    });

    it('device codes are limited per address (20 per 15 minutes by default): 429 past it', async () => {
      h = await harness({ engine });
      for (let i = 0; i < 20; i++) await startDevice();
      const refused = await h.post('/api/v1/cli/device/code', deviceBody(FP_B), {
        device: h.deviceKey(FP_B),
      });
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe('900');
      expect(refused.json()).toEqual({
        error: 'rate_limited',
        message: 'Too many device codes asked for from this address; retry in 900 seconds.',
      });
      expect(await grantCount()).toBe(20);
      // The first refusal of the window is audited, the next ones are not.
      expect(
        (await h.post('/api/v1/cli/device/code', deviceBody(FP_B), { device: h.deviceKey(FP_B) })).statusCode,
      ).toBe(429);
      const limited = (await h.store.read.audit.list()).filter((event) => event.event === 'rate_limited');
      expect(limited.map((event) => [event.client_ip, event.detail])).toEqual([
        ['127.0.0.1', { retry_after_seconds: 900, scope: 'address', limit: 'device_code' }],
      ]);
    });

    it('and overall, whatever the address', async () => {
      h = await harness({ engine, deviceCodeLimit: { perAddress: 2, overall: 5, windowMs: 60_000 } });
      const ask = (remoteAddress: string) =>
        h.post('/api/v1/cli/device/code', deviceBody(FP_B), { device: h.deviceKey(FP_B), remoteAddress });
      const statuses: number[] = [];
      for (const address of [
        '10.0.0.1',
        '10.0.0.1',
        '10.0.0.1',
        '10.0.0.2',
        '10.0.0.2',
        '10.0.0.3',
        '10.0.0.4',
      ])
        statuses.push((await ask(address)).statusCode);
      expect(statuses).toEqual([200, 200, 429, 200, 200, 200, 429]);
      const refused = await ask('10.0.0.5');
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe('60');
      expect(refused.json().message).toBe(
        'Too many device codes asked for from all addresses together; retry in 60 seconds.',
      );
      expect(await grantCount()).toBe(5);
    });

    it('denied: access_denied; expired: expired_token; an unknown code: invalid_grant', async () => {
      h = await harness({ engine });
      const denied = await startDevice();
      const b = await browser();
      const confirm = await b.get(`/device?code=${denied.user_code}`);
      const grant = /name="grant" value="(grant_\w+)"/.exec(confirm.body)?.[1] as string;
      const page = await b.post('/device', { grant, code: denied.user_code, decision: 'deny' });
      expect(page.body).toContain('Request denied');
      expect((await poll(denied.device_code)).json().error).toBe('access_denied');
      const expiring = await startDevice();
      h.advance(900_000);
      expect((await poll(expiring.device_code)).json()).toEqual({
        error: 'expired_token',
        message: 'The device code expired before it was approved.',
      });
      expect((await b.get(`/device?code=${expiring.user_code}`)).statusCode).toBe(404);
      expect((await poll('y'.repeat(43))).json().error).toBe('invalid_grant');
      expect((await token({ grant_type: 'password' })).json().error).toBe('unsupported_grant_type');
    });

    it('a typo or a made-up code says so; tries from one address are limited', async () => {
      h = await harness({ engine });
      const b = await browser();
      const wrong = await b.get('/device?code=BCDF-GHJK');
      expect(wrong.statusCode).toBe(404);
      expect(wrong.body).toContain('That code is not valid');
      const statuses: number[] = [];
      for (let i = 0; i < 31; i++) statuses.push((await b.get('/device?code=XXXX-XXXX')).statusCode);
      expect(statuses.at(-1)).toBe(429);
      expect((await b.get('/device?code=XXXX-XXXX')).headers['retry-after']).toMatch(/^[1-9]\d*$/);
    });
  });
});
