// What the Chromium tests of the approval pages (/cli/authorize, /device, /move) share: people, sign-in, reading a page.
import { randomBytes } from 'node:crypto';
import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { computeFingerprint, osName } from '../../packages/cli/src/core/device.js';
import type { Visit } from './browser.js';
import type { CliRun, Machine } from './cli.js';
import type { TestServer } from './server.js';

/** The OS fact the approval pages show for this machine: "linux · <version> · x64" (no version when unknown). */
export const THIS_OS_FACT = new RegExp(`^${osName(process.platform)}( · .+)? · ${process.arch}$`);

export interface Person {
  readonly email: string;
  readonly password: string;
}

let people = 0;
/** A new person per test: tests share the server, never an account. */
export async function newPerson(server: TestServer, label: string): Promise<Person> {
  people += 1;
  const person = { email: `${label}-${people}@example.com`, password: randomBytes(12).toString('base64url') };
  await server.createUser(person.email, person.password);
  return person;
}

/** The sign-in form, filled and sent (the page must be showing it). */
export async function fillSignIn(page: Page, person: Person): Promise<void> {
  await page.getByRole('heading', { level: 1, name: 'Sign in', exact: true }).waitFor();
  await page.getByLabel('Email', { exact: true }).fill(person.email);
  await page.getByLabel('Password', { exact: true }).fill(person.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Path and query of the page, as the server sees them. */
export function here(page: Page): string {
  const url = new URL(page.url());
  return `${url.pathname}${url.search}`;
}

/** The value of one fact of a `<dl class="facts">` (the `<dd>` after the `<dt>` named `term`). */
export async function fact(scope: Page | Locator, term: string): Promise<string> {
  const value = scope.locator(`xpath=.//dt[normalize-space(.)="${term}"]/following-sibling::dd[1]`);
  // biome-ignore lint/performance/useDomNodeTextContent: rendered text is the point; this is not a DOM node.
  return (await value.innerText()).trim();
}

/** The first 12 hex characters of a scratch machine's fingerprint, as the pages show it. */
export function fingerprintPrefix(machine: Machine): string {
  return computeFingerprint(machine.machineId, process.platform, process.arch).slice(0, 12);
}

/** The key's 32 random characters: finding them anywhere is a leak, with or without the prefix. */
export const secretOf = (key: string): string => key.slice(8, 40);

/**
 * A key handed to the CLI by the backend appears in no URL the browser asked for, no page it
 * received, nothing the CLI printed, and nothing the server logged.
 */
export async function expectNowhere(
  key: string,
  where: { visit: Visit; cli: CliRun; server: TestServer },
): Promise<void> {
  const secret = secretOf(key);
  expect(where.visit.urls.filter((url) => url.includes(secret))).toEqual([]);
  const documents = await where.visit.documents();
  expect(documents.filter((doc) => doc.body.includes(secret)).map((doc) => doc.url)).toEqual([]);
  expect(where.cli.stdout).not.toContain(secret);
  expect(where.cli.stderr).not.toContain(secret);
  expect(where.server.stdout()).not.toContain(secret);
  expect(where.server.stderr()).not.toContain(secret);
}

/** A phone's width: the approval pages must work there too. */
export const NARROW = { width: 390, height: 844 };

/** The page fits its window: nothing to scroll sideways. */
export async function noSidewaysScroll(page: Page): Promise<void> {
  const widths = await page.evaluate<{ scroll: number; client: number }>(
    '({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })',
  );
  expect(
    widths.scroll,
    `${here(page)} is ${widths.scroll} px wide in a ${widths.client} px window`,
  ).toBeLessThanOrEqual(widths.client);
}

/** The values the approval page's selects hold for the new key's environment and expiry. */
export async function keyChoice(page: Page): Promise<{ environment: string; expires: string }> {
  return {
    environment: await page.getByLabel('Environment', { exact: true }).inputValue(),
    expires: await page.getByLabel('Expires', { exact: true }).inputValue(),
  };
}
