// The route sweep: every route the app registers, read from the app itself, is refused without
// its credential. /api/v1/cli/* without a key, with a revoked key and from another device; every
// session route without a session; every form and every cookie-authenticated change without a
// CSRF token. A route nobody classified fails the sweep.
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { revokeApiKey } from '../../packages/server/src/domain/keys.js';
import { type RegisteredRoute, registeredRoutes } from '../../packages/server/src/http/route-list.js';
import { forEachEngine } from '../helpers/engines.js';
import { formSession } from './form-session.js';
import { deviceBody, FP_A, FP_B, type Harness, harness } from './harness.js';

/** Reachable without any credential, each for a reason. */
const OPEN_ROUTES: Record<string, string> = {
  'GET /api/v1/health': 'liveness',
  'GET /api/v1/ready': 'readiness, for load balancers',
  'POST /api/v1/auth/login': 'signing in',
  'POST /api/v1/auth/refresh': 'the refresh token is the credential',
  'POST /api/v1/cli/device/code': 'asks for a key: the device proof is the credential',
  'POST /api/v1/cli/token': 'the device code, the login code or the move id is the credential',
  'POST /api/v1/secret-scanning/github': "GitHub's signature over the report is the credential",
  'POST /api/v1/credentials/revoke': 'holding the leaked key is the credential: anyone may report it',
  'GET /assets/app.css': 'the stylesheet',
  'GET /assets/app.js': 'the script',
  'GET /assets/favicon.svg': 'the icon',
};

/** Pages anybody may open: the sign-in page itself, signing out, and an invitation link's page. */
const PUBLIC_PAGES = ['GET /login', 'POST /login', 'POST /logout', 'GET /invite', 'POST /invite'];

/**
 * Pages that refuse a malformed request before anything else (a login link to another host is
 * refused without asking anyone to sign in): the sweep sends them a well-formed one.
 */
const WELL_FORMED: Record<string, Record<string, string>> = {
  '/cli/authorize': {
    redirect_uri: 'http://127.0.0.1:4242/callback',
    state: 'st4te',
    code_challenge: 'A'.repeat(43),
    code_challenge_method: 'S256',
    device_name: 'laptop',
    device_os: 'linux',
    confirm: 'MAPLE-OTTER',
  },
};

const STATE_CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Session routes that take a Bearer token only: the cookie is refused before any CSRF check. */
const BEARER_ONLY = new Set(['POST /api/v1/auth/logout']);

function name(route: Pick<RegisteredRoute, 'method' | 'url'>): string {
  return `${route.method} ${route.url}`;
}

/** A concrete URL for a route: every parameter an id that names nothing. */
function concrete(url: string): string {
  return url.replace(/:[A-Za-z]+/g, 'x_sweep');
}

function refusal(response: LightMyRequestResponse) {
  const json = response.headers['content-type']?.toString().startsWith('application/json');
  return [
    response.statusCode,
    json ? (response.json() as { error: string }).error : response.headers.location,
  ];
}

forEachEngine((engine) => {
  let h: Harness;
  let routes: readonly RegisteredRoute[];
  beforeEach(async () => {
    h = await harness({ engine });
    // HEAD routes are Fastify's copies of the GETs: the GET is swept.
    routes = registeredRoutes(h.app).filter((route) => route.method !== 'HEAD');
  });
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  const cliRoutes = () =>
    routes.filter((route) => route.url.startsWith('/api/v1/cli/') && !(name(route) in OPEN_ROUTES));
  const sessionApiRoutes = () =>
    routes.filter(
      (route) =>
        route.url.startsWith('/api/v1/') &&
        !route.url.startsWith('/api/v1/cli/') &&
        !(name(route) in OPEN_ROUTES),
    );

  /** A request to a CLI route as the CLI sends it: the key, the device header, signed by that device. */
  const cliRequest = (route: RegisteredRoute, key: string | undefined, fingerprint: string) => {
    const url = concrete(route.url);
    const headers = { ...(key !== undefined && { 'x-api-key': key }), 'x-sekuire-device': fingerprint };
    if (route.method === 'GET') return h.get(url, key, fingerprint);
    return h.post(url, deviceBody(fingerprint), { device: h.deviceKey(fingerprint), headers });
  };

  it('every route is classified: an open route, a CLI route, a session API route or a page', () => {
    const unclassified = routes.filter(
      (route) =>
        !(name(route) in OPEN_ROUTES) && !route.url.startsWith('/api/v1/') && route.page === undefined,
    );
    expect(unclassified.map(name)).toEqual([]);
    // Every open route still exists (a renamed one would leave a stale pass here).
    expect(Object.keys(OPEN_ROUTES).filter((open) => !routes.some((route) => name(route) === open))).toEqual(
      [],
    );
    expect(
      routes
        .filter((route) => route.page === 'public')
        .map(name)
        .sort(),
    ).toEqual([...PUBLIC_PAGES].sort());
    // The sweep below has something to sweep on each surface.
    expect(cliRoutes().length).toBeGreaterThanOrEqual(4);
    expect(sessionApiRoutes().length).toBeGreaterThanOrEqual(10);
    expect(routes.filter((route) => route.page === 'signed-in').length).toBeGreaterThanOrEqual(12);
  });

  it('every /api/v1/cli/* route refuses no key, a revoked key and another device', async () => {
    const bound = await h.createKey();
    expect((await h.login(bound.apiKey.value, FP_A)).statusCode).toBe(200);
    const revoked = await h.createKey();
    expect((await h.login(revoked.apiKey.value, FP_A)).statusCode).toBe(200);
    expect((await revokeApiKey(h.store, revoked.key.id, h.now())).status).toBe('revoked');
    const answers: Record<string, unknown[]> = {};
    for (const route of cliRoutes()) {
      answers[name(route)] = [
        refusal(await cliRequest(route, undefined, FP_A)),
        refusal(await cliRequest(route, revoked.apiKey.value, FP_A)),
        refusal(await cliRequest(route, bound.apiKey.value, FP_B)),
      ];
    }
    const expected = Object.fromEntries(
      cliRoutes().map((route) => [
        name(route),
        [
          [401, 'invalid_key'],
          [401, 'key_revoked'],
          [409, 'device_mismatch'],
        ],
      ]),
    );
    expect(answers).toEqual(expected);
  });

  it('every session route refuses no session; every cookie-authenticated change refuses a missing CSRF token', async () => {
    await h.createUser({ email: 'ada@example.com' });
    const person = formSession(h);
    expect((await person.signIn('ada@example.com')).statusCode).toBe(303);
    const withoutSession: Record<string, unknown> = {};
    const withoutToken: Record<string, unknown> = {};
    for (const route of sessionApiRoutes()) {
      const url = concrete(route.url);
      withoutSession[name(route)] = refusal(
        await h.inject({
          method: route.method as 'GET',
          url,
          ...(STATE_CHANGES.has(route.method) && {
            headers: { 'content-type': 'application/json' },
            payload: '{}',
          }),
        }),
      );
      if (STATE_CHANGES.has(route.method)) {
        withoutToken[name(route)] = refusal(await person.api(route.method as 'POST', url, false));
      }
    }
    expect(withoutSession).toEqual(
      Object.fromEntries(sessionApiRoutes().map((route) => [name(route), [401, 'invalid_token']])),
    );
    expect(withoutToken).toEqual(
      Object.fromEntries(
        sessionApiRoutes()
          .filter((route) => STATE_CHANGES.has(route.method))
          .map((route) => [
            name(route),
            BEARER_ONLY.has(name(route)) ? [401, 'invalid_token'] : [403, 'csrf_failed'],
          ]),
      ),
    );
  });

  it('every signed-in page redirects to the sign-in page without a session; every form refuses a missing CSRF token', async () => {
    const pages = routes.filter((route) => route.page === 'signed-in');
    const redirects: Record<string, unknown> = {};
    const asked = (route: RegisteredRoute) => {
      const fields = WELL_FORMED[route.url] ?? {};
      const query = new URLSearchParams(fields).toString();
      return route.method === 'GET' && query !== '' ? `${concrete(route.url)}?${query}` : concrete(route.url);
    };
    for (const route of pages) {
      // A form sent with a token from a page seen signed out, so that only the session is missing.
      const anonymous = formSession(h);
      await anonymous.get('/login');
      const response =
        route.method === 'GET'
          ? await anonymous.get(asked(route))
          : await anonymous.post(asked(route), WELL_FORMED[route.url] ?? {});
      redirects[name(route)] = [response.statusCode, response.headers.location];
    }
    expect(redirects).toEqual(
      Object.fromEntries(
        pages.map((route) => [name(route), [303, `/login?next=${encodeURIComponent(asked(route))}`]]),
      ),
    );

    await h.createUser({ email: 'ada@example.com' });
    const person = formSession(h);
    expect((await person.signIn('ada@example.com')).statusCode).toBe(303);
    const forms = routes.filter((route) => route.page !== undefined && route.method === 'POST');
    const refused: Record<string, unknown> = {};
    for (const route of forms) {
      const response = await h.inject({
        method: 'POST',
        url: concrete(route.url),
        cookies: { sekuire_session: person.session() as string },
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'decision=approve',
      });
      refused[name(route)] = [response.statusCode, /<h1>([^<]*)<\/h1>/.exec(response.body)?.[1]];
    }
    expect(refused).toEqual(Object.fromEntries(forms.map((route) => [name(route), [403, 'Not allowed']])));
  });
});
