// `login --device` and `login --web` end to end: the real CLI process, the real server, a person in Chromium.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  expectNowhere,
  fact,
  fillSignIn,
  fingerprintPrefix,
  here,
  keyChoice,
  NARROW,
  newPerson,
  noSidewaysScroll,
  type Person,
  THIS_OS_FACT,
} from '../helpers/approval-browser.js';
import { useBrowser, type Visit } from '../helpers/browser.js';
import { hostnameEnv, type Machine, type RunningCli } from '../helpers/cli.js';
import { useReferenceServer } from '../helpers/e2e.js';
import { rawSql } from '../helpers/raw-sql.js';

const e2e = useReferenceServer({ SEKUIRE_RETRIES: '0' });
const browser = useBrowser(() => e2e.server.url);

/** A device code as the CLI prints it (PROTOCOL.md: 8 consonants, a dash in the middle). */
const USER_CODE = /[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}/;
/** Long enough for a few 5-second polls on a busy machine; the tests wait for exits, never for time. */
const WAITING_CLI_MS = 90_000;

/** A scratch machine whose CLI calls itself `host`. */
function machine(id: string, host: string): Machine {
  return e2e.machine(id, hostnameEnv(host));
}

function savedKey(m: Machine): string {
  return (JSON.parse(readFileSync(m.authFile, 'utf8')) as { api_key: string }).api_key;
}

/** `login --device` started, once it has printed its code and the line saying it waits. */
async function deviceLogin(m: Machine, args: string[] = []): Promise<{ cli: RunningCli; code: string }> {
  const cli = m.start(['login', '--device', ...args], { timeoutMs: WAITING_CLI_MS });
  const [, code = ''] = await cli.waitFor(new RegExp(`2\\. Enter the code: (${USER_CODE.source})\\n`));
  await cli.waitFor(/Waiting for approval \(expires in 15 minutes\)\.\.\.\n/);
  return { cli, code };
}

/** Signed in at /device (the page sends a new visitor to sign in first, then back). */
async function atDevicePage(person: Person): Promise<Visit> {
  const visit = await browser.visit();
  const { page } = visit;
  await page.goto('/device');
  expect(here(page)).toBe('/login?next=%2Fdevice');
  await fillSignIn(page, person);
  await page.getByRole('heading', { level: 1, name: 'Log in a device', exact: true }).waitFor();
  expect(here(page)).toBe('/device');
  return visit;
}

/** Types the code into the field Code and presses Continue. */
async function enterCode(visit: Visit, code: string): Promise<void> {
  await visit.page.getByLabel('Code', { exact: true }).fill(code);
  await visit.page.getByRole('button', { name: 'Continue', exact: true }).click();
}

/** `login --web --no-browser` started, once it has printed the URL, the words and the waiting line. */
async function webLogin(m: Machine): Promise<{ cli: RunningCli; url: URL; words: string; listener: URL }> {
  const cli = m.start(['login', '--web', '--no-browser'], { timeoutMs: WAITING_CLI_MS });
  const [, url = ''] = await cli.waitFor(/1\. Go to: (\S+)\n/);
  const [, words = ''] = await cli.waitFor(/2\. Check that the page shows: ([A-Z]+-[A-Z]+)\n/);
  await cli.waitFor(/Waiting for the browser \(times out in 5 minutes\)\.\.\.\n/);
  const parsed = new URL(url);
  return {
    cli,
    url: parsed,
    words,
    listener: new URL(parsed.searchParams.get('redirect_uri') ?? ''),
  };
}

/** Opens the authorize URL in a fresh browser, signs in, and is back on the page. */
async function atAuthorizePage(person: Person, url: URL): Promise<Visit> {
  const visit = await browser.visit();
  const { page } = visit;
  await page.goto(url.href);
  expect(new URL(page.url()).pathname).toBe('/login');
  expect(new URL(page.url()).searchParams.get('next')).toBe(`${url.pathname}${url.search}`);
  await fillSignIn(page, person);
  await page.getByRole('heading', { level: 1, name: 'Authorize the Sekuire CLI?', exact: true }).waitFor();
  expect(page.url()).toBe(url.href);
  return visit;
}

/**
 * The saved key as `status --json` tells of it: its environment, and its lifetime in days from
 * its creation (the audit trail's create event) to its expires_at (null: never).
 */
async function savedKeyFacts(m: Machine): Promise<{ environment: string; lifetimeDays: number | null }> {
  const status = await m.run(['status', '--json']);
  expect(status.code, status.stderr).toBe(0);
  const facts = status.json<{ key: { environment: string; id: string }; expires_at: string | null }>();
  const events = (await e2e.server.audit(facts.key.id)) as { event: string; at: string }[];
  const created = events.find((entry) => entry.event === 'create')?.at as string;
  return {
    environment: facts.key.environment,
    lifetimeDays:
      facts.expires_at === null ? null : (Date.parse(facts.expires_at) - Date.parse(created)) / 86_400_000,
  };
}

/** How many CLI logins were approved on the server so far (the audit trail's cli_approve). */
async function approvals(): Promise<number> {
  const events = (await e2e.server.audit()) as { event: string }[];
  return events.filter((entry) => entry.event === 'cli_approve').length;
}

describe('login --device in Chromium', { timeout: 120_000 }, () => {
  it('approved: the CLI shows a URL and a code, a person types it in, and the CLI logs in with no key pasted', async () => {
    const person = await newPerson(e2e.server, 'device-ok');
    const laptop = machine('device-ok', 'laptop-device');
    const { cli, code } = await deviceLogin(laptop);
    expect(cli.stderr()).toBe(
      [
        'Sekuire Login (device code)',
        `1. Go to: ${e2e.server.url}/device`,
        `2. Enter the code: ${code}`,
        'Waiting for approval (expires in 15 minutes)...',
        '',
      ].join('\n'),
    );

    const visit = await atDevicePage(person);
    const { page } = visit;
    await visit.screenshot('device-code');
    await enterCode(visit, code);
    await page.getByRole('heading', { level: 1, name: 'Authorize this device?', exact: true }).waitFor();
    expect(here(page)).toBe(`/device?code=${code}`);
    expect(await fact(page, 'Code')).toBe(code);
    expect(await fact(page, 'Device')).toBe('laptop-device');
    expect(await fact(page, 'OS')).toMatch(THIS_OS_FACT);
    expect(await fact(page, 'Fingerprint')).toBe(`${fingerprintPrefix(laptop)}…`);
    expect(await fact(page, 'Client address')).toBe('127.0.0.1');
    await page.getByText(`asks to log in as ${person.email}`).waitFor();
    // The new key's environment and expiry: the one default, preselected.
    expect(await keyChoice(page)).toEqual({ environment: 'test', expires: '90' });
    await visit.screenshot('device-confirm');
    await page.setViewportSize(NARROW);
    await noSidewaysScroll(page);
    await visit.screenshot('narrow-device-confirm');
    await page.getByRole('button', { name: 'Authorize', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Device authorized', exact: true }).waitFor();
    expect((await page.getByRole('status').textContent())?.trim()).toBe(
      'laptop-device is being logged in. Return to its terminal: it finishes by itself within a few seconds.',
    );
    await visit.screenshot('device-approved');

    const done = await cli.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(
      /^Login successful! API Key verified and bound to this device\.\nDevice: laptop-device\n/,
    );
    const status = await laptop.run(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('Device: laptop-device\n');
    expect(await savedKeyFacts(laptop)).toEqual({ environment: 'test', lifetimeDays: 90 });

    // The new key is the person's, named after the device, on their API Keys page.
    await page.getByRole('link', { name: 'Go to API Keys', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'API Keys', exact: true }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'CLI on laptop-device' });
    expect(await row.count()).toBe(1);
    await expectNowhere(savedKey(laptop), { visit, cli: done, server: e2e.server });
  });

  it('denied in the browser: exit 14 saying so, and nothing saved', async () => {
    const person = await newPerson(e2e.server, 'device-deny');
    const laptop = machine('device-deny', 'laptop-denied');
    const { cli, code } = await deviceLogin(laptop);
    const visit = await atDevicePage(person);
    const { page } = visit;
    await enterCode(visit, code);
    await page.getByRole('heading', { level: 1, name: 'Authorize this device?', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Deny', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Request denied', exact: true }).waitFor();
    expect((await page.getByRole('status').textContent())?.trim()).toBe(
      'The login of laptop-denied was denied; it received nothing.',
    );
    await visit.screenshot('device-denied');

    const done = await cli.done;
    expect(done.code).toBe(14);
    expect(done.stdout).toBe('');
    expect(done.stderr).toContain('The login was denied in the browser. Nothing was saved.\n');
    expect(existsSync(laptop.authFile)).toBe(false);
    expect((await laptop.run(['status'])).code).toBe(10);
  });

  it('the code expired at the server: exit 13 saying so; the page no longer takes the code', async () => {
    const person = await newPerson(e2e.server, 'device-expired');
    const laptop = machine('device-expired', 'laptop-late');
    const { cli, code } = await deviceLogin(laptop);
    // Fifteen minutes pass at the server (the CLI's own clock still says it may wait).
    const db = rawSql(e2e.server.dbPath);
    try {
      const changed = await db.run('UPDATE cli_grants SET expires_at = ? WHERE user_code = ?', [
        new Date(Date.now() - 1_000).toISOString(),
        code,
      ]);
      expect(changed).toBe(1);
    } finally {
      await db.close();
    }

    const visit = await atDevicePage(person);
    await enterCode(visit, code);
    const alert = visit.page.getByRole('alert');
    expect((await alert.textContent())?.trim()).toBe(
      'That code is not valid, or it has expired or been used. Check the code your terminal shows.',
    );
    expect(await visit.page.getByRole('button', { name: 'Authorize', exact: true }).count()).toBe(0);
    await visit.screenshot('device-expired');

    const done = await cli.done;
    expect(done.code).toBe(13);
    expect(done.stderr).toContain('The code expired before it was approved. Nothing was saved.\n');
    expect(done.stderr).toContain("Run 'sekuire login' again and approve it sooner");
    expect(existsSync(laptop.authFile)).toBe(false);
  });

  it('--timeout passes before anyone approves: exit 13 saying so, nothing saved', async () => {
    const laptop = machine('device-timeout', 'laptop-timeout');
    const { cli } = await deviceLogin(laptop, ['--timeout', '1']);
    const done = await cli.done;
    expect(done.code).toBe(13);
    expect(done.stderr).toContain('Nobody approved the login within 1 second (--timeout).\n');
    expect(done.stderr).not.toContain('unreachable');
    expect(existsSync(laptop.authFile)).toBe(false);
  });
});

describe('login --web --no-browser in Chromium', { timeout: 120_000 }, () => {
  it('approved: sign-in comes back to the page, the words match, and the redirect reaches the CLI', async () => {
    const person = await newPerson(e2e.server, 'web-ok');
    const laptop = machine('web-ok', 'laptop-web');
    const { cli, url, words, listener } = await webLogin(laptop);
    expect(cli.stderr()).toBe(
      [
        'Sekuire Login (browser)',
        `1. Go to: ${url.href}`,
        `2. Check that the page shows: ${words}`,
        'Waiting for the browser (times out in 5 minutes)...',
        '',
      ].join('\n'),
    );
    expect(`${url.origin}${url.pathname}`).toBe(`${e2e.server.url}/cli/authorize`);
    expect(listener.protocol).toBe('http:');
    expect(listener.hostname).toBe('127.0.0.1');
    expect(listener.pathname).toMatch(/^\/callback\/[A-Za-z0-9_-]{16}$/);

    const visit = await atAuthorizePage(person, url);
    const { page } = visit;
    expect((await page.locator('.confirm-words').textContent())?.trim()).toBe(
      `Your terminal shows: ${words}`,
    );
    expect(await fact(page, 'Device')).toBe('laptop-web');
    // As on the device-code page: the OS, its version and the architecture.
    expect(await fact(page, 'OS')).toMatch(THIS_OS_FACT);
    expect(await fact(page, 'Fingerprint')).toBe(`${fingerprintPrefix(laptop)}…`);
    expect(await fact(page, 'Client address')).toBe(`this computer (the CLI listens on ${listener.host})`);
    await page.getByText(`asks to log in as ${person.email}`).waitFor();
    expect(await keyChoice(page)).toEqual({ environment: 'test', expires: '90' });
    // The approver chooses the new key as on the dashboard's Create form.
    await page.getByLabel('Environment', { exact: true }).selectOption('live');
    await page.getByLabel('Expires', { exact: true }).selectOption({ label: '30 days' });
    await visit.screenshot('authorize');
    await page.setViewportSize(NARROW);
    await noSidewaysScroll(page);
    await visit.screenshot('narrow-authorize');

    await page.getByRole('button', { name: 'Authorize', exact: true }).click();
    await page.waitForURL((at) => at.origin === listener.origin);
    await page.getByRole('heading', { level: 1, name: 'Login approved', exact: true }).waitFor();
    await page.getByText('You can close this tab and go back to the terminal.').waitFor();
    await visit.screenshot('authorize-callback');
    // The redirect carried a one-time code and the login's state, to the listener's own path.
    const callback = new URL(page.url());
    expect(callback.pathname).toBe(listener.pathname);
    expect([...callback.searchParams.keys()].sort()).toEqual(['code', 'state']);
    expect(callback.searchParams.get('state')).toBe(url.searchParams.get('state'));

    const done = await cli.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain('Approved in the browser.\n');
    expect(done.stdout).toMatch(
      /^Login successful! API Key verified and bound to this device\.\nDevice: laptop-web\n/,
    );
    const status = await laptop.run(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(await savedKeyFacts(laptop)).toEqual({ environment: 'live', lifetimeDays: 30 });
    await expectNowhere(savedKey(laptop), { visit, cli: done, server: e2e.server });
  });

  it('a key choice the page never offers is refused with the page as left, nothing approved; then live, never', async () => {
    const person = await newPerson(e2e.server, 'web-choice');
    const laptop = machine('web-choice', 'laptop-choice');
    const { cli, url } = await webLogin(laptop);
    const visit = await atAuthorizePage(person, url);
    const { page } = visit;
    const before = await approvals();
    // What an edited page or a hand-made request could send: an environment the select never offers.
    await page.locator('#key-environment option[value="live"]').evaluate((option) => {
      (option as unknown as { value: string }).value = 'staging';
    });
    await page.getByLabel('Environment', { exact: true }).selectOption('staging');
    await page.getByLabel('Expires', { exact: true }).selectOption({ label: '1 year' });
    await page.getByRole('button', { name: 'Authorize', exact: true }).click();
    await page.getByRole('alert').waitFor();
    expect((await page.getByRole('alert').textContent())?.trim()).toBe(
      'Choose the environment from the list: test or live.',
    );
    expect(here(page)).toBe('/cli/authorize');
    expect(await keyChoice(page)).toEqual({ environment: 'test', expires: '365' });
    expect(await approvals()).toBe(before);
    expect(cli.stderr()).toMatch(/Waiting for the browser \(times out in 5 minutes\)\.\.\.\n$/);
    await visit.screenshot('authorize-choice-refused');

    await page.getByLabel('Environment', { exact: true }).selectOption('live');
    await page.getByLabel('Expires', { exact: true }).selectOption({ label: 'Never' });
    await page.getByRole('button', { name: 'Authorize', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Login approved', exact: true }).waitFor();
    const done = await cli.done;
    expect(done.code, done.stderr).toBe(0);
    expect(await savedKeyFacts(laptop)).toEqual({ environment: 'live', lifetimeDays: null });
  });

  it('a forged callback with another state does not end the login; the real one still does', async () => {
    const person = await newPerson(e2e.server, 'web-forged');
    const laptop = machine('web-forged', 'laptop-forged');
    const { cli, url, listener } = await webLogin(laptop);
    const forged = new URL(listener.href);
    forged.searchParams.set('code', 'a-code-from-someone-else');
    forged.searchParams.set('state', 'not-the-state-of-this-login');
    const answer = await fetch(forged);
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('its state does not match');
    // Still waiting: it wrote nothing more, exchanged nothing, saved nothing.
    expect(cli.stderr()).toMatch(/Waiting for the browser \(times out in 5 minutes\)\.\.\.\n$/);
    expect(existsSync(laptop.authFile)).toBe(false);

    const visit = await atAuthorizePage(person, url);
    await visit.page.getByRole('button', { name: 'Authorize', exact: true }).click();
    await visit.page.getByRole('heading', { level: 1, name: 'Login approved', exact: true }).waitFor();
    const done = await cli.done;
    expect(done.code, done.stderr).toBe(0);
    expect((await laptop.run(['status'])).code).toBe(0);
    // The listener is gone with the login: the real callback, replayed, reaches nobody.
    await expect(fetch(visit.page.url())).rejects.toThrow();
  });

  it('Deny in the browser: the CLI hears it through its listener and exits 14', async () => {
    const person = await newPerson(e2e.server, 'web-deny');
    const laptop = machine('web-deny', 'laptop-web-deny');
    const { cli, url, listener } = await webLogin(laptop);
    const visit = await atAuthorizePage(person, url);
    await visit.page.getByRole('button', { name: 'Deny', exact: true }).click();
    await visit.page.getByRole('heading', { level: 1, name: 'Login denied', exact: true }).waitFor();
    const callback = new URL(visit.page.url());
    expect(`${callback.origin}${callback.pathname}`).toBe(`${listener.origin}${listener.pathname}`);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    const done = await cli.done;
    expect(done.code).toBe(14);
    expect(done.stderr).toContain('The login was denied in the browser. Nothing was saved.\n');
    expect(existsSync(laptop.authFile)).toBe(false);
  });

  it('a redirect_uri off loopback is refused with a page, and the browser is sent nowhere', async () => {
    const person = await newPerson(e2e.server, 'web-elsewhere');
    const query = (redirect: string) =>
      new URLSearchParams({
        redirect_uri: redirect,
        state: 'st4te-of-a-made-up-link',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        device_name: 'laptop',
        device_os: 'Linux',
        confirm: 'MAPLE-OTTER',
      });
    const refused = async (visit: Visit, redirect: string) => {
      const response = await visit.page.goto(`/cli/authorize?${query(redirect)}`);
      expect(response?.status(), redirect).toBe(400);
      expect(here(visit.page), redirect).toMatch(/^\/cli\/authorize\?/);
      await visit.page.getByText('This login link is not valid: its redirect_uri must be').waitFor();
      expect(await visit.page.getByRole('button', { name: 'Authorize', exact: true }).count()).toBe(0);
    };
    const elsewhere = [
      'http://evil.example:8080/callback/x',
      // A name, even this one, is resolved by someone else: only the addresses are loopback.
      'http://localhost:8080/callback/x',
      'http://127.0.0.1.evil.example:8080/callback/x',
      'https://127.0.0.1:8080/callback/x',
    ];

    // Refused before the sign-in is even asked for.
    const signedOut = await browser.visit();
    await refused(signedOut, elsewhere[0] as string);

    const visit = await browser.visit();
    const { page } = visit;
    await page.goto('/login');
    await fillSignIn(page, person);
    await page.waitForURL((at) => at.pathname === '/dashboard/settings');
    for (const redirect of elsewhere) await refused(visit, redirect);
    await visit.screenshot('authorize-refused');

    // The form of a real page, its redirect_uri changed on the way: refused too, nothing approved.
    await page.goto(`/cli/authorize?${query('http://127.0.0.1:9/callback/x')}`);
    await page.getByRole('heading', { level: 1, name: 'Authorize the Sekuire CLI?', exact: true }).waitFor();
    const approvedBefore = await approvals();
    await page.evaluate(
      `document.querySelector('input[name="redirect_uri"]').value = ${JSON.stringify(elsewhere[0])}`,
    );
    const [posted] = await Promise.all([
      page.waitForResponse((response) => response.request().method() === 'POST'),
      page.getByRole('button', { name: 'Authorize', exact: true }).click(),
    ]);
    expect(posted.status()).toBe(400);
    await page.getByText('This login link is not valid: its redirect_uri must be').waitFor();

    const hosts = ['evil.example', 'localhost', '127.0.0.1.evil.example'];
    for (const visited of [signedOut, visit]) {
      expect(
        visited.urls.map((seen) => new URL(seen)).filter((seen) => hosts.includes(seen.hostname)),
      ).toEqual([]);
      expect(visited.urls.filter((seen) => new URL(seen).protocol === 'https:')).toEqual([]);
    }
    expect(await approvals()).toBe(approvedBefore);
  });
});
