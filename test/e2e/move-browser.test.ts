// `login --rebind` of a key bound elsewhere, decided by a person at /move in Chromium: the real CLI processes and server.
import { existsSync } from 'node:fs';
import { maskKey } from '@sekuire/shared/key';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { osName } from '../../packages/cli/src/core/device.js';
import {
  expectNowhere,
  fact,
  fillSignIn,
  fingerprintPrefix,
  here,
  newPerson,
  type Person,
  THIS_OS_FACT,
} from '../helpers/approval-browser.js';
import { useBrowser } from '../helpers/browser.js';
import { hostnameEnv, type Machine, type RunningCli } from '../helpers/cli.js';
import { useReferenceServer } from '../helpers/e2e.js';

const e2e = useReferenceServer({ SEKUIRE_RETRIES: '0' });
const browser = useBrowser(() => e2e.server.url);

const THIS_OS = osName(process.platform);
const KEY_NAME = 'release builds';
/** Long enough for a few 5-second polls on a busy machine; the tests wait for exits, never for time. */
const WAITING_CLI_MS = 90_000;

interface PendingMove {
  readonly owner: Person;
  readonly key: string;
  /** The device the key is bound to (laptop-a). */
  readonly a: Machine;
  /** The device asking for it (laptop-b), still waiting. */
  readonly b: Machine;
  readonly cli: RunningCli;
  readonly url: string;
  readonly code: string;
}

/** A key bound on laptop-a by its owner; laptop-b runs `login --with-key --rebind` and waits. */
async function moveAsked(label: string): Promise<PendingMove> {
  const owner = await newPerson(e2e.server, label);
  const { key } = await e2e.server.createKey({ email: owner.email, keyName: KEY_NAME });
  const a = e2e.machine(`${label}-a`, hostnameEnv('laptop-a'));
  const bound = await a.run(['login', '--with-key'], { input: key });
  expect(bound.code, bound.stderr).toBe(0);
  const b = e2e.machine(`${label}-b`, hostnameEnv('laptop-b'));
  const cli = b.start(['login', '--with-key', '--rebind'], { input: key, timeoutMs: WAITING_CLI_MS });
  const [, url = '', code = ''] = await cli.waitFor(/1\. Go to: (\S+\/move\?code=([A-Z]{4}-[A-Z]{4}))\n/);
  await cli.waitFor(/Waiting for approval \(expires in 15 minutes\)\.\.\.\n/);
  expect(cli.stderr()).toBe(
    [
      `This key is bound to laptop-a (${THIS_OS}). Moving it here needs the approval of someone who manages the key.`,
      `1. Go to: ${e2e.server.url}/move?code=${code}`,
      `2. Check that the page shows the code: ${code}`,
      'Waiting for approval (expires in 15 minutes)...',
      '',
    ].join('\n'),
  );
  return { owner, key, a, b, cli, url, code };
}

/** The two columns of the confirm page: the device bound now, the device asking. */
function column(page: Page, heading: 'Bound now' | 'New device') {
  return page
    .locator('.move-device')
    .filter({ has: page.getByRole('heading', { level: 2, name: heading, exact: true }) });
}

describe('a move approved or denied in Chromium', { timeout: 120_000 }, () => {
  it('the owner follows the printed URL, sees both devices, approves; the key works on B only', async () => {
    const move = await moveAsked('move-ok');
    const visit = await browser.visit();
    const { page } = visit;
    await page.goto(move.url);
    expect(here(page)).toBe(`/login?next=${encodeURIComponent(`/move?code=${move.code}`)}`);
    await fillSignIn(page, move.owner);
    await page
      .getByRole('heading', { level: 1, name: 'Move this key to a new device?', exact: true })
      .waitFor();
    expect(here(page)).toBe(`/move?code=${move.code}`);
    expect((await page.locator('.confirm > p').first().textContent())?.trim()).toBe(
      `A device asks to take over ${KEY_NAME} ${maskKey(move.key)}. Once moved, the key works only there.`,
    );

    const bound = column(page, 'Bound now');
    expect(await fact(bound, 'Device')).toBe('laptop-a');
    expect(await fact(bound, 'OS')).toMatch(THIS_OS_FACT);
    expect(await fact(bound, 'Fingerprint')).toBe(`${fingerprintPrefix(move.a)}…`);
    expect(await fact(bound, 'Last address')).toBe('127.0.0.1');
    expect(await fact(bound, 'Bound')).toMatch(/^(just now|\d+ min ago)$/);
    const asking = column(page, 'New device');
    expect(await fact(asking, 'Device')).toBe('laptop-b');
    expect(await fact(asking, 'OS')).toMatch(THIS_OS_FACT);
    expect(await fact(asking, 'Fingerprint')).toBe(`${fingerprintPrefix(move.b)}…`);
    expect(await fact(asking, 'Client address')).toBe('127.0.0.1');
    expect(await fact(asking, 'Code')).toBe(move.code);
    await visit.screenshot('move-confirm');

    await page.getByRole('button', { name: 'Approve move', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Key moved', exact: true }).waitFor();
    // Both devices told apart by more than a name (every VM is "vm"): fingerprint, OS version, address.
    const approved = (await page.getByRole('status').textContent())?.trim() ?? '';
    expect(approved.replace(/\s+/g, ' ')).toMatch(
      new RegExp(
        `^${KEY_NAME} is now bound to laptop-b \\(fingerprint ${fingerprintPrefix(move.b)}…\\); laptop-a \\([^,()]+(\\([^)]*\\))?, fingerprint ${fingerprintPrefix(move.a)}…, last address 127\\.0\\.0\\.1\\) can no longer use it\\. Return to the new device's terminal: it finishes by itself within a few seconds\\.$`,
      ),
    );
    await visit.screenshot('move-approved');

    const done = await move.cli.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/Waiting for approval \(expires in 15 minutes\)\.\.\.\nMove approved\.\n$/);
    expect(done.stdout).toMatch(
      /^Login successful! API Key verified and bound to this device\.\nDevice: laptop-b\n/,
    );
    expect(done.stdout).toContain(`\nBinding moved here from: laptop-a (${THIS_OS})\n`);
    const onA = await move.a.run(['status']);
    expect(onA.code, onA.stdout + onA.stderr).toBe(12);
    const onB = await move.b.run(['status']);
    expect(onB.code, onB.stderr).toBe(0);
    expect(onB.stdout).toContain('Device: laptop-b\n');
    await expectNowhere(move.key, { visit, cli: done, server: e2e.server });
  });

  it('someone else with the link cannot decide it; the owner types the code and denies: B exits 14', async () => {
    const move = await moveAsked('move-deny');
    const stranger = await newPerson(e2e.server, 'move-stranger');
    const elsewhere = await browser.visit();
    await elsewhere.page.goto(move.url);
    await fillSignIn(elsewhere.page, stranger);
    await elsewhere.page.getByRole('heading', { level: 1, name: 'Move a key to another device' }).waitFor();
    expect(here(elsewhere.page)).toBe(`/move?code=${move.code}`);
    expect((await elsewhere.page.getByRole('alert').textContent())?.trim()).toBe(
      'That code is not valid, or the move expired or was decided, or its key is not one you can manage. Check the code the new device shows.',
    );
    expect(await elsewhere.page.getByRole('button', { name: 'Approve move' }).count()).toBe(0);
    await elsewhere.screenshot('move-not-yours');

    const visit = await browser.visit();
    const { page } = visit;
    await page.goto('/move');
    await fillSignIn(page, move.owner);
    await page
      .getByRole('heading', { level: 1, name: 'Move a key to another device', exact: true })
      .waitFor();
    expect(here(page)).toBe('/move');
    await visit.screenshot('move-code');
    await page.getByLabel('Code', { exact: true }).fill(move.code.toLowerCase());
    await page.getByRole('button', { name: 'Continue', exact: true }).click();
    await page
      .getByRole('heading', { level: 1, name: 'Move this key to a new device?', exact: true })
      .waitFor();
    expect(await fact(column(page, 'New device'), 'Code')).toBe(move.code);
    await page.getByRole('button', { name: 'Deny', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Move denied', exact: true }).waitFor();
    expect((await page.getByRole('status').textContent())?.trim()).toBe(
      'The key stays where it is; laptop-b received nothing.',
    );
    await visit.screenshot('move-denied');

    const done = await move.cli.done;
    expect(done.code).toBe(14);
    expect(done.stdout).toBe('');
    expect(done.stderr).toContain(
      'The move was denied. The key stays bound to the other device; nothing was saved.\n',
    );
    expect(existsSync(move.b.authFile)).toBe(false);
    const onA = await move.a.run(['status']);
    expect(onA.code, onA.stderr).toBe(0);
    expect(onA.stdout).toContain('Device: laptop-a\n');
  });
});
