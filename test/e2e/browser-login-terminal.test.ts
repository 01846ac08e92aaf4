// What a terminal (tmux) shows during `login --device` and `login --web --no-browser`: approved in Chromium, or Ctrl+C.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fillSignIn, newPerson, type Person } from '../helpers/approval-browser.js';
import { useBrowser, type Visit } from '../helpers/browser.js';
import { hostnameEnv, type Machine } from '../helpers/cli.js';
import { useReferenceServer } from '../helpers/e2e.js';
import { useTerminal } from '../helpers/terminal.js';

const e2e = useReferenceServer({ SEKUIRE_RETRIES: '0' });
const browser = useBrowser(() => e2e.server.url);
const terminal = useTerminal();

/** The device flow polls every 5 s (slower after a slow_down): room for a few polls on a busy machine. */
const APPROVED_WITHIN_MS = 60_000;

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function machine(id: string, host: string): Machine {
  return e2e.machine(id, hostnameEnv(host));
}

/** A person signed in, in a fresh browser, on the page `path` (sign-in comes back to it). */
async function signedInAt(person: Person, path: string): Promise<Visit> {
  const visit = await browser.visit();
  await visit.page.goto(path);
  await fillSignIn(visit.page, person);
  await visit.page.waitForURL((url) => url.href === new URL(path, e2e.server.url).href);
  return visit;
}

describe('login --device in a terminal', { timeout: 120_000 }, () => {
  it('shows the block with the URL and the code, waits, and finishes once the code is approved in Chromium', async () => {
    const person = await newPerson(e2e.server, 'tty-device-ok');
    const m = machine('tty-device-ok', 'tty-laptop');
    terminal.start('device-ok', m, ['login', '--device']);
    const shown = await terminal.waitFor('device-ok', /Waiting for approval/);
    terminal.save('device-ok', 'device-waiting');
    const [, code = ''] =
      /\n1\. Go to: \S+\/device\n2\. Enter the code: ([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\n/.exec(
        shown,
      ) ?? [];
    expect(shown).toMatch(
      new RegExp(
        `^Sekuire Login \\(device code\\)\\n1\\. Go to: ${escaped(e2e.server.url)}/device\\n2\\. Enter the code: ${code}\\nWaiting for approval \\(expires in 15 minutes\\)\\.\\.\\.\\n`,
      ),
    );
    expect(shown).not.toContain('EXIT:');

    const visit = await signedInAt(person, '/device');
    await visit.page.getByLabel('Code', { exact: true }).fill(code);
    await visit.page.getByRole('button', { name: 'Continue', exact: true }).click();
    await visit.page.getByRole('button', { name: 'Authorize', exact: true }).click();
    await visit.page.getByRole('heading', { level: 1, name: 'Device authorized', exact: true }).waitFor();

    const done = await terminal.waitFor('device-ok', /EXIT:\d+/, APPROVED_WITHIN_MS);
    // The block stays as it was; the login's lines follow the waiting line.
    expect(done).toMatch(
      /Waiting for approval \(expires in 15 minutes\)\.\.\.\nLogin successful! API Key verified and bound to this device\.\nDevice: tty-laptop\n/,
    );
    expect(done).toContain(`\nCredentials saved to: ${m.authFile}\n`);
    expect(done).toContain('EXIT:0');
    expect(await terminal.modesAfterExit('device-ok')).toBe('icanon echo');
    terminal.save('device-ok', 'device-approved');
    expect((await m.run(['status'])).code).toBe(0);
  });

  it('Ctrl+C while it waits: exit 130, nothing saved, and the terminal is as it was', async () => {
    const m = machine('tty-device', 'tty-laptop');
    terminal.start('device', m, ['login', '--device']);
    const shown = await terminal.waitFor('device', /Waiting for approval/);
    expect(shown).toMatch(
      new RegExp(
        `Sekuire Login \\(device code\\)\\n1\\. Go to: ${escaped(e2e.server.url)}/device\\n2\\. Enter the code: [BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}\\nWaiting for approval \\(expires in 15 minutes\\)\\.\\.\\.`,
      ),
    );
    terminal.keys('device', 'C-c');
    const done = await terminal.waitFor('device', /EXIT:\d+/);
    expect(done).toMatch(
      /Waiting for approval \(expires in 15 minutes\)\.\.\.\n\^C\nInterrupted\nEXIT:130\n/,
    );
    expect(existsSync(m.authFile)).toBe(false);
    expect(await terminal.modesAfterExit('device')).toBe('icanon echo');
    terminal.save('device', 'device-interrupted');
  });

  it('--web with no display says so and falls back to a device code', async () => {
    const m = machine('tty-web', 'tty-laptop');
    terminal.start('web', m, ['login', '--web'], { DISPLAY: undefined, WAYLAND_DISPLAY: undefined });
    const shown = await terminal.waitFor('web', /Enter the code:/, undefined, { joined: true });
    // This machine is a container, CI's may have no display either.
    expect(shown).toMatch(/No browser can be opened here \(.+\): using a device code instead\./);
    terminal.keys('web', 'C-c');
    expect(await terminal.waitFor('web', /EXIT:\d+/)).toContain('EXIT:130');
  });
});

describe('login --web --no-browser in a terminal', { timeout: 120_000 }, () => {
  it('shows the URL and the words, waits, and finishes once Chromium approves through the listener', async () => {
    const person = await newPerson(e2e.server, 'tty-web-ok');
    const m = machine('tty-web-ok', 'tty-laptop');
    terminal.start('web-ok', m, ['login', '--web', '--no-browser']);
    // The URL is longer than the 150-column pane: read with the wrapped lines joined.
    const shown = await terminal.waitFor('web-ok', /Waiting for the browser/, undefined, { joined: true });
    terminal.save('web-ok', 'web-waiting');
    const [, url = '', words = ''] =
      /^Sekuire Login \(browser\)\n1\. Go to: (\S+)\n2\. Check that the page shows: ([A-Z]+-[A-Z]+)\nWaiting for the browser \(times out in 5 minutes\)\.\.\.\n/.exec(
        shown,
      ) ?? [];
    expect(url.startsWith(`${e2e.server.url}/cli/authorize?redirect_uri=http%3A%2F%2F127.0.0.1%3A`)).toBe(
      true,
    );
    expect(shown).not.toContain('EXIT:');

    const visit = await signedInAt(person, url);
    // biome-ignore lint/performance/useDomNodeTextContent: rendered text is the point; this is not a DOM node.
    expect(await visit.page.locator('.confirm-words strong').innerText()).toBe(words);
    await visit.page.getByRole('button', { name: 'Authorize', exact: true }).click();
    await visit.page.getByRole('heading', { level: 1, name: 'Login approved', exact: true }).waitFor();

    const done = await terminal.waitFor('web-ok', /EXIT:\d+/, APPROVED_WITHIN_MS, { joined: true });
    expect(done).toMatch(
      /Waiting for the browser \(times out in 5 minutes\)\.\.\.\nApproved in the browser\.\nLogin successful! API Key verified and bound to this device\.\nDevice: tty-laptop\n/,
    );
    expect(done).toContain('EXIT:0');
    expect(await terminal.modesAfterExit('web-ok')).toBe('icanon echo');
    terminal.save('web-ok', 'web-approved');
    expect((await m.run(['status'])).code).toBe(0);
  });

  it('Ctrl+C while it waits: exit 130, nothing saved, the terminal as it was, the listener closed', async () => {
    const m = machine('tty-web-url', 'tty-laptop');
    terminal.start('weburl', m, ['login', '--web', '--no-browser']);
    const shown = await terminal.waitFor('weburl', /Waiting for the browser/, undefined, { joined: true });
    const url = /1\. Go to: (\S+)\n/.exec(shown)?.[1] ?? '';
    expect(shown).toMatch(/2\. Check that the page shows: [A-Z]+-[A-Z]+\n/);
    const listener = new URL(new URL(url).searchParams.get('redirect_uri') ?? '');
    expect(listener.hostname).toBe('127.0.0.1');
    terminal.keys('weburl', 'C-c');
    const done = await terminal.waitFor('weburl', /EXIT:\d+/);
    expect(done).toMatch(
      /Waiting for the browser \(times out in 5 minutes\)\.\.\.\n\^C\nInterrupted\nEXIT:130\n/,
    );
    expect(existsSync(m.authFile)).toBe(false);
    expect(await terminal.modesAfterExit('weburl')).toBe('icanon echo');
    terminal.save('weburl', 'web-interrupted');
    await expect(fetch(listener.origin)).rejects.toThrow();
  });
});
