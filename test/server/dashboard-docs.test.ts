// docs/DASHBOARD.md states the numbers the code uses: limits, lifetimes, page size, password cost, ranges.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNOWN_BROWSER_TTL_MS } from '../../packages/server/src/domain/known-browsers.js';
import { MAX_EXPIRY_DAYS, MAX_GRACE_SECONDS } from '../../packages/server/src/domain/managed-keys.js';
import { DEFAULT_PASSWORD_SLOTS } from '../../packages/server/src/domain/password-slots.js';
import {
  DEFAULT_COST,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
} from '../../packages/server/src/domain/passwords.js';
import { ACCESS_TTL_MS, COOKIE_TTL_MS, REFRESH_TTL_MS } from '../../packages/server/src/domain/sessions.js';
import { KEYS_PER_PAGE } from '../../packages/server/src/http/pages/dashboard.js';
import { DEFAULT_SIGN_IN_LIMIT } from '../../packages/server/src/http/session-auth.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** The text with every run of whitespace made one space, so line wrapping does not matter. */
const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8').replace(/\s+/g, ' ');
const docs = read('docs/DASHBOARD.md');
const HOUR_MS = 3_600_000;

describe('docs/DASHBOARD.md', () => {
  it('gives the sign-in limits, lifetimes, page size and password cost of the code', () => {
    const limit = DEFAULT_SIGN_IN_LIMIT;
    expect(docs).toContain(`at most **${limit.perAddress} attempts per client address**`);
    expect(docs).toContain(`**${limit.perAccount} failures per account**`);
    expect(docs).toContain(
      `computes **${DEFAULT_PASSWORD_SLOTS.inFlight} password hashes at once**, and lets ${DEFAULT_PASSWORD_SLOTS.waiting} more`,
    );
    expect(docs).toContain(
      `last signed in to through the page for ${KNOWN_BROWSER_TTL_MS / (24 * HOUR_MS)} days`,
    );
    expect(docs).toContain(`per **${limit.windowMs / 60_000} minutes**`);
    expect(docs).toContain(`Its access token lives ${ACCESS_TTL_MS / HOUR_MS} hour`);
    expect(docs).toContain(`An API session lasts ${REFRESH_TTL_MS / (24 * HOUR_MS)} days`);
    expect(docs).toContain(`A dashboard session (the cookie) lasts ${COOKIE_TTL_MS / HOUR_MS} hours`);
    expect(docs).toContain(`${KEYS_PER_PAGE} keys per page`);
    expect(docs).toContain(
      `N = 2^${Math.log2(DEFAULT_COST.N)}, r = ${DEFAULT_COST.r}, p = ${DEFAULT_COST.p}`,
    );
    expect(docs).toContain(`Passwords have ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
    expect(docs).toContain(`"expires_in_days"?: 1..${MAX_EXPIRY_DAYS}`);
    expect(docs).toContain(`"grace_seconds"?: 0..${MAX_GRACE_SECONDS}`);
  });

  it('lists the extension error codes and token prefixes', () => {
    for (const code of ['invalid_credentials', 'invalid_token', 'csrf_failed', 'key_not_active']) {
      expect(docs).toContain(`\`${code}\``);
    }
    for (const prefix of ['sek_at_', 'sek_rt_', 'sek_ck_']) expect(docs).toContain(`\`${prefix}\``);
  });

  it('the README links it and neither points outside the repository', () => {
    const readme = read('README.md');
    expect(readme).toContain('(docs/DASHBOARD.md)');
    expect(readme).toContain('npm run serve');
    expect(readme).not.toContain('../shared');
    expect(docs).not.toContain('../shared');
  });
});
