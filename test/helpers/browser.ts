// Debian's Chromium, driven by playwright-core (which downloads nothing): one browser per file, a context per test.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';

/** The browser under test: Debian's package (scripts/test-deps.sh installs it), or SEKUIRE_TEST_CHROMIUM. */
export const CHROMIUM_PATH = process.env.SEKUIRE_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Where screenshots go (git-ignored); people look at them, no test compares them. */
export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../test-results/screenshots');

/**
 * --no-sandbox: tests run as root in a container, where Chromium's sandbox cannot start.
 * The rest keep the browser from reaching anything but the test server, or doing work nobody
 * asked for, on a small machine.
 */
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Generous: two noisy cores, and every page load may wait for a password hash elsewhere. */
const ACTION_TIMEOUT_MS = 20_000;

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}. The dashboard's browser tests need Debian's package "chromium": ` +
        'apt-get install chromium (npm test installs it through scripts/test-deps.sh), ' +
        'or set SEKUIRE_TEST_CHROMIUM to another Chromium binary.',
    );
  }
  // launch() gives the browser a fresh, temporary user-data directory and removes it on close.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, timeout: 60_000 });
}

export interface Visit {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every URL the browser requested, in order: documents, assets and each step of a redirect. */
  readonly urls: string[];
  /**
   * Console errors, uncaught exceptions, and assets that failed to load: a CSP violation, a
   * broken script or a missing stylesheet shows up here.
   */
  readonly problems: string[];
  /** The bodies of every document the browser received (redirects have none), once all have arrived. */
  documents(): Promise<{ method: string; url: string; status: number; body: string }[]>;
  /** A full-page PNG in SCREENSHOT_DIR. */
  screenshot(name: string): Promise<void>;
}

export interface VisitOptions {
  /** Window size; Playwright's default is 1280 × 720. */
  readonly viewport?: { width: number; height: number };
}

export interface BrowserSuite {
  /** A new context (no cookies, no storage) with one page, closed after the test. */
  visit(options?: VisitOptions): Promise<Visit>;
}

/**
 * Launches Chromium for the file and opens a context per visit. After each test, every visit
 * must have seen no console error and no uncaught exception.
 */
export function useBrowser(origin: () => string): BrowserSuite {
  let browser: Browser | undefined;
  const open: Visit[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    const visits = open.splice(0);
    for (const visit of visits) await visit.context.close();
    expect(visits.flatMap((visit) => visit.problems)).toEqual([]);
  });
  return {
    async visit(options = {}) {
      if (browser === undefined) throw new Error('the browser is launched in beforeAll');
      const context = await browser.newContext({
        baseURL: origin(),
        ...(options.viewport && { viewport: options.viewport }),
      });
      context.setDefaultTimeout(ACTION_TIMEOUT_MS);
      context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: origin() });
      const urls: string[] = [];
      const problems: string[] = [];
      const bodies: Promise<{ method: string; url: string; status: number; body: string }>[] = [];
      context.on('request', (request) => urls.push(request.url()));
      context.on('requestfailed', (request) => {
        const reason = request.failure()?.errorText ?? 'no reason';
        // ERR_ABORTED: the page moved on before this finished (a favicon is fetched lazily).
        if (reason !== 'net::ERR_ABORTED') problems.push(`failed: ${request.url()} (${reason})`);
      });
      context.on('response', (response) => {
        if (response.request().resourceType() !== 'document') {
          // A page's status is the test's to check; a stylesheet, script or icon must simply load.
          if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
          return;
        }
        bodies.push(
          response.text().then(
            (body) => ({
              method: response.request().method(),
              url: response.url(),
              status: response.status(),
              body,
            }),
            () => ({
              method: response.request().method(),
              url: response.url(),
              status: response.status(),
              body: '',
            }),
          ),
        );
      });
      const page = await context.newPage();
      page.on('console', (message) => {
        // Chromium also logs every page answered 4xx (a wrong password is a 401): those are checked above.
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource: the server'))
          problems.push(`console: ${message.text()} (${page.url()})`);
      });
      page.on('pageerror', (error) => problems.push(`uncaught: ${error.message} (${page.url()})`));
      const visit: Visit = {
        context,
        page,
        urls,
        problems,
        documents: () => Promise.all(bodies),
        async screenshot(name) {
          await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
        },
      };
      open.push(visit);
      return visit;
    },
  };
}
