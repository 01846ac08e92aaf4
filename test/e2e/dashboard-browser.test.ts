// The dashboard in Chromium against the real server and the real CLI: what a person sees and does, by accessible name.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { maskKey } from '@sekuire/shared/key';
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { computeFingerprint, deviceName, osName } from '../../packages/cli/src/core/device.js';
import { here, noSidewaysScroll } from '../helpers/approval-browser.js';
import { useBrowser, type Visit } from '../helpers/browser.js';
import type { Machine } from '../helpers/cli.js';
import { useReferenceServer } from '../helpers/e2e.js';
import { runServer } from '../helpers/server-commands.js';

const e2e = useReferenceServer({ SEKUIRE_RETRIES: '0' });
const browser = useBrowser(() => e2e.server.url);

const KEYS_TAB = '/dashboard/settings?tab=api-keys';
const DEVICES_TAB = '/dashboard/settings?tab=devices';
const MEMBERS_TAB = '/dashboard/settings?tab=members';
const KEY_PATTERN = /^sk_(live|test)_[0-9A-Za-z]{38}$/;
const THIS_DEVICE = deviceName(hostname());
const THIS_OS = osName(process.platform);
const NARROW = { width: 390, height: 844 };

interface User {
  readonly email: string;
  readonly password: string;
}

let users = 0;
/** A new person per test: tests share the server, never an account (the sign-in limit counts per account too). */
async function newUser(label: string): Promise<User> {
  users += 1;
  const user = { email: `${label}-${users}@example.com`, password: randomBytes(12).toString('base64url') };
  await e2e.server.createUser(user.email, user.password);
  return user;
}

/** The key's 32 random characters: finding them anywhere is a leak, with or without the prefix. */
const secretOf = (key: string) => key.slice(8, 40);

function fingerprintPrefix(machine: Machine): string {
  return computeFingerprint(machine.machineId, process.platform, process.arch).slice(0, 12);
}

async function fillSignIn(page: Page, user: User): Promise<void> {
  await page.getByLabel('Email', { exact: true }).fill(user.email);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function signIn(page: Page, user: User): Promise<void> {
  await page.goto('/login');
  await fillSignIn(page, user);
  await page.waitForURL((url) => url.pathname === '/dashboard/settings');
  await page.getByRole('heading', { level: 1, name: 'API Keys', exact: true }).waitFor();
}

interface KeyChoices {
  readonly name: string;
  readonly environment?: 'live' | 'test';
  readonly type?: 'client' | 'server';
  readonly expires?: '30 days' | '90 days' | '1 year' | 'Never';
}

/**
 * The key on the page that shows it once. Waits for the page's script first: it replaces the
 * history entry of the POST with the plain tab URL and wires the Copy button, and on a busy
 * machine it runs a while after the text is there.
 */
async function shownKey(page: Page): Promise<string> {
  await page.waitForURL((url) => `${url.pathname}${url.search}` === KEYS_TAB);
  const key = await page.getByLabel('New API key', { exact: true }).inputValue();
  expect(key).toMatch(KEY_PATTERN);
  return key;
}

/** Opens the form, fills it, creates; answers the key shown once. */
async function createKey(visit: Visit, choices: KeyChoices, screenshot?: string): Promise<string> {
  const { page } = visit;
  await page.getByRole('button', { name: 'Create API Key', exact: true }).click();
  await page.getByLabel('Name', { exact: true }).fill(choices.name);
  await page.getByLabel('Environment', { exact: true }).selectOption(choices.environment ?? 'test');
  await page.getByLabel('Type', { exact: true }).selectOption(choices.type ?? 'client');
  await page.getByLabel('Expires', { exact: true }).selectOption({ label: choices.expires ?? '90 days' });
  if (screenshot !== undefined) await visit.screenshot(screenshot);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  return shownKey(page);
}

/** The table row of the key with this masked form (names may repeat after a roll; masked keys do not). */
function row(page: Page, masked: string): Locator {
  return page.getByRole('row').filter({ hasText: masked });
}

/** The cell's text as a person reads it (a value and the line under it are two lines). */
async function cell(rowOf: Locator, column: string): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: rendered text is the point; this is not a DOM node.
  return (await rowOf.locator(`td[data-label="${column}"]`).innerText()).trim();
}

async function loggedInMachine(id: string, key: string): Promise<Machine> {
  const machine = e2e.machine(id);
  const login = await machine.run(['login', '--with-key'], { input: key });
  expect(login.code, login.stderr).toBe(0);
  return machine;
}

/** Presses Tab until `target` has the focus (at most `limit` times): the keyboard path to it. */
async function tabTo(page: Page, target: Locator, limit = 20): Promise<void> {
  for (let presses = 0; ; presses++) {
    if (await target.evaluate((element) => element === element.ownerDocument.activeElement)) return;
    if (presses === limit) throw new Error(`${target} is not reached with ${limit} presses of Tab`);
    await page.keyboard.press('Tab');
  }
}

/** Where the form of this button goes (the confirm pages of a key have its id in their path). */
function formAction(button: Locator): Promise<string> {
  return button.evaluate((element) => new URL(element.form.action).pathname);
}

describe('the dashboard in Chromium', { timeout: 120_000 }, () => {
  it('sign in: a wrong password is told so; the right one opens API Keys, empty', async () => {
    const user = await newUser('signin');
    const visit = await browser.visit();
    const { page } = visit;
    await page.goto('/login');
    expect(await page.title()).toBe('Sign in · Sekuire');
    await visit.screenshot('sign-in');

    await fillSignIn(page, { ...user, password: 'not the password' });
    expect((await page.getByRole('alert').textContent())?.trim()).toBe('Wrong email or password');
    expect(here(page)).toBe('/login');
    expect(await page.getByLabel('Email', { exact: true }).inputValue()).toBe(user.email);
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    await visit.screenshot('sign-in-error');

    await page.getByLabel('Password', { exact: true }).fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/dashboard/settings');
    expect(here(page)).toBe(KEYS_TAB);
    await page.getByRole('heading', { level: 1, name: 'API Keys', exact: true }).waitFor();
    await page.getByText('No API keys yet.').waitFor();
    expect(await page.getByRole('table').count()).toBe(0);
    await visit.screenshot('empty-list');
  });

  it('a key created here is shown once, copies, logs the CLI in, then appears nowhere', async () => {
    const user = await newUser('create');
    const visit = await browser.visit();
    const { page } = visit;
    await signIn(page, user);

    await page.getByRole('button', { name: 'Create API Key', exact: true }).click();
    // The contract's names, as a screen reader announces them.
    for (const [role, name] of [
      ['textbox', 'Name'],
      ['combobox', 'Environment'],
      ['combobox', 'Type'],
      ['combobox', 'Expires'],
      ['button', 'Create'],
    ] as const) {
      expect(await page.getByRole(role, { name, exact: true }).count(), name).toBe(1);
    }
    await page.goto(KEYS_TAB);
    const key = await createKey(
      visit,
      { name: 'laptop', environment: 'live', type: 'client', expires: '30 days' },
      'create-form',
    );
    expect(key.startsWith('sk_live_')).toBe(true);
    const field = page.getByLabel('New API key', { exact: true });
    expect(await field.isEditable()).toBe(false);
    await page.getByText("you'll only see it once").waitFor();
    // The command for this server: without --backend, a self-hoster's login would go to the public service.
    await page.getByText(`Next: run sekuire login --backend ${e2e.server.url} and paste it`).waitFor();
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByRole('button', { name: 'Copied', exact: true }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(key);
    await visit.screenshot('new-key');

    const laptop = await loggedInMachine('browser-create', key);
    const status = await laptop.run(['status']);
    expect(status.code, status.stderr).toBe(0);

    await page.reload();
    const listed = row(page, maskKey(key));
    expect(await cell(listed, 'Name')).toBe('laptop');
    expect(await cell(listed, 'Environment')).toBe('live');
    expect(await cell(listed, 'Type')).toBe('client');
    expect(await cell(listed, 'Status')).toBe('active');
    expect(await cell(listed, 'Last used')).toMatch(/^(just now|\d+ min ago)$/);
    expect(await cell(listed, 'Device')).toBe(`${THIS_DEVICE}\n${THIS_OS}`);
    expect(await page.getByLabel('New API key', { exact: true }).count()).toBe(0);

    const secret = secretOf(key);
    expect(await page.content()).not.toContain(secret);
    expect(visit.urls.filter((url) => url.includes(secret))).toEqual([]);
    // The one answer that carried the key: the one to the form.
    const carriers = (await visit.documents()).filter((doc) => doc.body.includes(secret));
    expect(carriers.map((doc) => `${doc.method} ${new URL(doc.url).pathname}`)).toEqual([
      'POST /dashboard/keys',
    ]);
  });

  it('revoke asks first; then the CLI is refused at once (exit 11)', async () => {
    const user = await newUser('revoke');
    const visit = await browser.visit();
    const { page } = visit;
    await signIn(page, user);
    const key = await createKey(visit, { name: 'build box' });
    const machine = await loggedInMachine('browser-revoke', key);

    await page.goto(KEYS_TAB);
    await page.getByRole('button', { name: 'Revoke build box', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Revoke this key?' }).waitFor();
    expect(here(page)).toMatch(/^\/dashboard\/keys\/key_[^/]+\/revoke$/);
    await page.getByText(maskKey(key)).waitFor();
    await visit.screenshot('revoke-confirm');
    await page.getByRole('button', { name: 'Revoke key', exact: true }).click();

    await page.getByRole('status').getByText('The key was revoked').waitFor();
    const listed = row(page, maskKey(key));
    expect(await cell(listed, 'Status')).toBe('revoked');
    expect(await listed.getByRole('button').count()).toBe(0);
    const status = await machine.run(['status']);
    expect(status.code, status.stdout + status.stderr).toBe(11);
  });

  it('roll with a grace period: the new key once, the old one still works and reads "rolling", until revoked early', async () => {
    const user = await newUser('roll');
    const visit = await browser.visit();
    const { page } = visit;
    await signIn(page, user);
    const old = await createKey(visit, { name: 'deploy' });
    const machine = await loggedInMachine('browser-roll', old);

    await page.goto(KEYS_TAB);
    await page.getByRole('button', { name: 'Roll deploy', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Roll this key?' }).waitFor();
    await page.getByLabel('Keep the old key working for', { exact: true }).selectOption({ label: '1 hour' });
    await visit.screenshot('roll');
    await page.getByRole('button', { name: 'Roll key', exact: true }).click();

    await page.getByRole('heading', { level: 2, name: 'Your rolled key: deploy' }).waitFor();
    const rolled = await shownKey(page);
    expect(rolled).not.toBe(old);
    await page.getByText("you'll only see it once").waitFor();
    await page.getByText(`The old key ${maskKey(old)} keeps working until`).waitFor();
    await visit.screenshot('rolled-key');

    expect(await cell(row(page, maskKey(old)), 'Status')).toBe('rolling');
    expect(await cell(row(page, maskKey(rolled)), 'Status')).toBe('active');
    // The old key can be ended early (revoked), never rolled again.
    const oldButtons = row(page, maskKey(old)).getByRole('button');
    expect(await oldButtons.count()).toBe(1);
    expect(await oldButtons.first().getAttribute('aria-label')).toBe('Revoke deploy (rolling)');
    const status = await machine.run(['status']);
    expect(status.code, status.stderr).toBe(0);
    const next = await loggedInMachine('browser-rolled', rolled);
    expect((await next.run(['status'])).code).toBe(0);

    await page.reload();
    const content = await page.content();
    expect(content).not.toContain(secretOf(old));
    expect(content).not.toContain(secretOf(rolled));
    expect(await cell(row(page, maskKey(old)), 'Status')).toBe('rolling');

    await page.getByRole('button', { name: 'Revoke deploy (rolling)', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Revoke this key?' }).waitFor();
    await page.getByRole('button', { name: 'Revoke key', exact: true }).click();
    await page.getByText('The key was revoked').waitFor();
    expect(await cell(row(page, maskKey(old)), 'Status')).toBe('revoked');
    expect(await row(page, maskKey(old)).getByRole('button').count()).toBe(0);
    expect((await machine.run(['status'])).code).toBe(11);
    expect((await next.run(['status'])).code).toBe(0);
  });

  it('devices: unbind frees the key, and the next login from another machine binds it', async () => {
    const user = await newUser('devices');
    const visit = await browser.visit();
    const { page } = visit;
    await signIn(page, user);
    const key = await createKey(visit, { name: 'shared' });
    const first = await loggedInMachine('browser-device-a', key);

    await page.getByRole('link', { name: 'Devices', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Devices', exact: true }).waitFor();
    expect(here(page)).toBe(DEVICES_TAB);
    const bound = page.getByRole('row').filter({ hasText: fingerprintPrefix(first) });
    expect(await cell(bound, 'Device')).toBe(THIS_DEVICE);
    expect(await cell(bound, 'OS')).toMatch(new RegExp(`^${THIS_OS}\n.+ · ${process.arch}$`));
    expect(await cell(bound, 'Key')).toBe(`shared\n${maskKey(key)}`);
    expect(await cell(bound, 'Last address')).toBe('127.0.0.1');
    await visit.screenshot('devices');

    await bound.getByRole('button', { name: `Unbind ${THIS_DEVICE}`, exact: true }).click();
    await page.getByRole('status').getByText('The device was unbound').waitFor();
    await page.getByText('No bound devices.').waitFor();

    const second = await loggedInMachine('browser-device-b', key);
    expect((await first.run(['status'])).code).toBe(12);
    await page.goto(DEVICES_TAB);
    expect(
      await page
        .getByRole('row')
        .filter({ hasText: fingerprintPrefix(second) })
        .count(),
    ).toBe(1);
    expect(
      await page
        .getByRole('row')
        .filter({ hasText: fingerprintPrefix(first) })
        .count(),
    ).toBe(0);
  });

  it('Sign out is on every dashboard page; after it the old session opens nothing', async () => {
    const user = await newUser('signout');
    const visit = await browser.visit();
    const { page } = visit;
    await signIn(page, user);
    await createKey(visit, { name: 'any' });
    await page.goto(KEYS_TAB);
    const pages = [
      KEYS_TAB,
      `${KEYS_TAB}&create=1`,
      DEVICES_TAB,
      await formAction(page.getByRole('button', { name: 'Revoke any', exact: true })),
      await formAction(page.getByRole('button', { name: 'Roll any', exact: true })),
      '/dashboard/keys/key_doesnotexist/revoke',
    ];
    for (const path of pages) {
      await page.goto(path);
      expect(await page.getByRole('button', { name: 'Sign out', exact: true }).count(), path).toBe(1);
    }
    const cookies = await visit.context.cookies();

    await page.goto(DEVICES_TAB);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/login');
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.goto(KEYS_TAB);
    expect(here(page)).toBe(`/login?next=${encodeURIComponent(KEYS_TAB)}`);

    // The cookie of the ended session, replayed in a fresh browser, is refused.
    const replay = await browser.visit();
    await replay.context.addCookies(cookies);
    await replay.page.goto(KEYS_TAB);
    expect(here(replay.page)).toBe(`/login?next=${encodeURIComponent(KEYS_TAB)}`);
  });

  it('without a session any dashboard URL asks to sign in, then leads back; ?next= never leaves the site', async () => {
    const user = await newUser('next');
    const visit = await browser.visit();
    const { page } = visit;
    for (const path of ['/dashboard', KEYS_TAB, DEVICES_TAB, '/dashboard/keys/key_x/roll']) {
      await page.goto(path);
      expect(here(page)).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
    await page.goto(DEVICES_TAB);
    await fillSignIn(page, user);
    await page.getByRole('heading', { level: 1, name: 'Devices', exact: true }).waitFor();
    expect(here(page)).toBe(DEVICES_TAB);

    for (const next of ['//evil.example', 'https://evil.example/']) {
      const elsewhere = await browser.visit();
      await elsewhere.page.goto(`/login?next=${encodeURIComponent(next)}`);
      await fillSignIn(elsewhere.page, user);
      await elsewhere.page.getByRole('heading', { level: 1, name: 'API Keys', exact: true }).waitFor();
      expect(elsewhere.page.url()).toBe(`${e2e.server.url}${KEYS_TAB}`);
      expect(elsewhere.urls.filter((url) => new URL(url).origin !== e2e.server.url)).toEqual([]);
    }
  });

  it('headers and cookies as the browser sees them; the CSP really blocks inline script', async () => {
    const user = await newUser('headers');
    const visit = await browser.visit();
    const { page, context } = visit;
    const checkHeaders = async (path: string) => {
      const response = await page.goto(path);
      if (response === null) throw new Error(`no response for ${path}`);
      const headers = await response.allHeaders();
      const csp = new Map(
        (headers['content-security-policy'] ?? '').split(';').map((directive) => {
          const [name = '', ...values] = directive.trim().split(/\s+/);
          return [name, values.join(' ')] as const;
        }),
      );
      expect(csp.get('script-src'), path).toBe("'self'");
      expect(csp.get('frame-ancestors'), path).toBe("'none'");
      expect(headers['content-security-policy'], path).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(headers['x-content-type-options'], path).toBe('nosniff');
      expect(headers['referrer-policy'], path).toBe('no-referrer');
      expect(headers['x-frame-options'], path).toBe('DENY');
    };
    await checkHeaders('/login');
    await fillSignIn(page, user);
    await page.waitForURL((url) => url.pathname === '/dashboard/settings');
    for (const path of [KEYS_TAB, DEVICES_TAB]) await checkHeaders(path);

    const cookies = await context.cookies();
    expect(cookies.map((cookie) => cookie.name).sort()).toEqual([
      'sekuire_csrf',
      'sekuire_known',
      'sekuire_session',
    ]);
    for (const cookie of cookies) {
      expect({
        name: cookie.name,
        httpOnly: cookie.httpOnly,
        sameSite: cookie.sameSite,
        path: cookie.path,
      }).toEqual({ name: cookie.name, httpOnly: true, sameSite: 'Lax', path: '/' });
      expect(cookie.secure).toBe(false);
    }
    expect(cookies.find((cookie) => cookie.name === 'sekuire_session')?.value).toMatch(/^sek_ck_/);
    expect(await page.evaluate<string>('document.cookie')).toBe('');

    await page.addScriptTag({ content: 'window.inlineRan = true;' }).catch(() => undefined);
    expect(await page.evaluate<unknown>('window.inlineRan')).toBeUndefined();
    // The refusal is reported on the console; it is what this test expects, so it is not a problem.
    const refused = visit.problems.splice(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.filter((problem) => !problem.includes('Content Security Policy'))).toEqual([]);
  });

  it('keyboard only: sign in, create a key and copy it with Tab and Enter', async () => {
    const user = await newUser('keyboard');
    const visit = await browser.visit();
    const { page } = visit;
    const keyboard = page.keyboard;
    await page.goto('/login');
    await tabTo(page, page.getByLabel('Email', { exact: true }));
    await keyboard.type(user.email);
    await keyboard.press('Tab');
    await keyboard.type(user.password);
    await keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'API Keys', exact: true }).waitFor();

    await tabTo(page, page.getByRole('button', { name: 'Create API Key', exact: true }));
    await keyboard.press('Enter');
    await tabTo(page, page.getByLabel('Name', { exact: true }));
    await keyboard.type('keyboard');
    await tabTo(page, page.getByLabel('Environment', { exact: true }));
    await keyboard.press('ArrowDown');
    expect(await page.getByLabel('Environment', { exact: true }).inputValue()).toBe('live');
    await tabTo(page, page.getByRole('button', { name: 'Create', exact: true }));
    await keyboard.press('Enter');

    const key = await shownKey(page);
    expect(key).toMatch(/^sk_live_/);
    await tabTo(page, page.getByRole('button', { name: 'Copy', exact: true }));
    await keyboard.press('Enter');
    await page.getByRole('button', { name: 'Copied', exact: true }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(key);
  });

  it('a full list at 1280 px, and every page at 390 px without sideways scrolling', async () => {
    const user = await newUser('narrow');
    const visit = await browser.visit();
    const { page } = visit;
    await signIn(page, user);
    const used = await createKey(visit, { name: 'laptop', environment: 'live', expires: '1 year' });
    await loggedInMachine('browser-list', used);
    await createKey(visit, { name: 'CI deploy (production)', type: 'server', expires: 'Never' });
    const old = await createKey(visit, { name: 'old desktop', expires: '30 days' });
    await page.goto(KEYS_TAB);
    await page.getByRole('button', { name: 'Revoke old desktop', exact: true }).click();
    await page.getByRole('button', { name: 'Revoke key', exact: true }).click();
    await createKey(visit, { name: 'staging' });
    await page.goto(KEYS_TAB);
    await page.getByRole('button', { name: 'Roll staging', exact: true }).click();
    await page
      .getByLabel('Keep the old key working for', { exact: true })
      .selectOption({ label: '24 hours' });
    await page.getByRole('button', { name: 'Roll key', exact: true }).click();
    await page.goto(KEYS_TAB);
    expect(await page.getByRole('row').count()).toBe(6);
    expect(await cell(row(page, maskKey(old)), 'Status')).toBe('revoked');
    await visit.screenshot('list-with-keys');
    // At a common laptop width the whole table, Revoke included, fits without scrolling its region.
    const table = page.getByRole('region', { name: 'API keys', exact: true });
    expect(await table.evaluate((region) => region.scrollWidth - region.clientWidth)).toBeLessThanOrEqual(0);

    await page.setViewportSize(NARROW);
    const revokePage = await formAction(page.getByRole('button', { name: 'Revoke laptop', exact: true }));
    for (const [name, path] of [
      ['narrow-keys', KEYS_TAB],
      ['narrow-create-form', `${KEYS_TAB}&create=1`],
      ['narrow-devices', DEVICES_TAB],
      ['narrow-revoke-confirm', revokePage],
    ] as const) {
      await page.goto(path);
      await noSidewaysScroll(page);
      await visit.screenshot(name);
    }
    await page.goto(KEYS_TAB);
    await createKey(visit, { name: 'a phone-sized window' });
    await noSidewaysScroll(page);
    await visit.screenshot('narrow-new-key');

    const signedOut = await browser.visit({ viewport: NARROW });
    await signedOut.page.goto('/login');
    await fillSignIn(signedOut.page, { ...user, password: 'not the password' });
    await signedOut.page.getByRole('alert').waitFor();
    await noSidewaysScroll(signedOut.page);
    await signedOut.screenshot('narrow-sign-in-error');
  });

  it('Members: an owner changes a role and removes someone, who is signed out at once; 390 px too', async () => {
    const org = `Members ${randomBytes(3).toString('hex')}`;
    const person = async (label: string, role: 'owner' | 'admin' | 'member'): Promise<User> => {
      users += 1;
      const user = {
        email: `${label}-${users}@example.com`,
        password: randomBytes(12).toString('base64url'),
      };
      const made = await runServer(
        [
          'create-user',
          '--db',
          e2e.server.dbPath,
          '--email',
          user.email,
          '--org',
          org,
          '--role',
          role,
          '--password-stdin',
        ],
        { input: `${user.password}\n` },
      );
      expect(made.code, made.stderr).toBe(0);
      return user;
    };
    const owner = await person('owner', 'owner');
    const leaving = await person('leaving', 'member');
    const staying = await person('staying', 'member');
    const visit = await browser.visit();
    const { page } = visit;
    await signIn(page, owner);
    await page.getByRole('link', { name: 'Members', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Members', exact: true }).waitFor();
    expect(await page.getByRole('row').count()).toBe(4);
    await page.getByLabel(`Role for ${staying.email}`, { exact: true }).selectOption('admin');
    await page.getByRole('button', { name: `Change role of ${staying.email}`, exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'The role was changed.' }).waitFor();
    expect(await cell(page.getByRole('row').filter({ hasText: staying.email }), 'Role')).toBe('admin');
    await visit.screenshot('members');

    // The person leaving is signed in elsewhere; removing them ends that session at once.
    const theirs = await browser.visit();
    await signIn(theirs.page, leaving);
    await page.getByRole('button', { name: `Remove ${leaving.email}`, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Remove this member?', exact: true }).waitFor();
    await visit.screenshot('members-remove-confirm');
    await page.getByLabel('Revoke them: every request with them is refused from now on').check();
    await page.getByRole('button', { name: 'Remove member', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'The member was removed' }).waitFor();
    expect(await page.getByRole('row').count()).toBe(3);
    await theirs.page.goto(KEYS_TAB);
    expect(here(theirs.page)).toBe(`/login?next=${encodeURIComponent(KEYS_TAB)}`);
    await fillSignIn(theirs.page, leaving);
    await theirs.page.getByRole('alert').filter({ hasText: 'Wrong email or password' }).waitFor();

    // An invitation: the link is shown once; whoever opens it sets the password, once.
    users += 1;
    const invitee = {
      email: `invited-${users}@example.com`,
      password: randomBytes(12).toString('base64url'),
    };
    await page.getByLabel('Email', { exact: true }).fill(invitee.email);
    await page.getByLabel('Role', { exact: true }).selectOption('member');
    await page.getByRole('button', { name: 'Invite', exact: true }).click();
    const link = await page.getByLabel('Invitation link', { exact: true }).inputValue();
    expect(link).toMatch(new RegExp(`^${e2e.server.url}/invite\\?user=`));
    await visit.screenshot('members-invite');
    const newcomer = await browser.visit();
    await newcomer.page.goto(link);
    await newcomer.page.getByRole('heading', { level: 1, name: 'Set your password', exact: true }).waitFor();
    await newcomer.screenshot('invite-set-password');
    await newcomer.page.getByLabel('Password', { exact: true }).fill(invitee.password);
    await newcomer.page.getByLabel('Password again', { exact: true }).fill(invitee.password);
    await newcomer.page.getByRole('button', { name: 'Set password', exact: true }).click();
    await newcomer.page.getByRole('heading', { level: 1, name: 'Password set', exact: true }).waitFor();
    await signIn(newcomer.page, invitee);

    await page.setViewportSize(NARROW);
    await page.goto(MEMBERS_TAB);
    await noSidewaysScroll(page);
    await visit.screenshot('narrow-members');
    await page.getByRole('button', { name: `Remove ${staying.email}`, exact: true }).click();
    await noSidewaysScroll(page);
    await visit.screenshot('narrow-members-remove-confirm');
  });
});
