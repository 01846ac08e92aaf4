// Secret hygiene over the real binary and server: keys, passwords, session tokens and device keys appear only where they must.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliRun, Machine } from '../helpers/cli.js';
import { useReferenceServer } from '../helpers/e2e.js';
import { type Handler, json } from '../helpers/fake-backend.js';

const e2e = useReferenceServer({ SEKUIRE_RETRIES: '0', SEKUIRE_DEBUG: '1' });

const EVERY_COMMAND = [
  ['status'],
  ['status', '--offline'],
  ['auth', 'whoami'],
  ['whoami'],
  ['auth', 'test'],
  ['auth', 'test', '--verbose'],
  ['api', '/api/v1/cli/status'],
  ['api', '-i', '--verbose', '/api/v1/cli/whoami'],
];

/** `sekuire api` with every way it prints: the body, -i's headers, --verbose's requests, errors. */
const API_COMMANDS = [
  ['api', '/api/v1/cli/status'],
  ['api', '-i', '--verbose', '/api/v1/cli/status'],
];

function withJson(commands: string[][]): string[][] {
  return commands.flatMap((args) => [args, [...args, '--json']]);
}

/**
 * Runs each command and fails naming every output that showed the key where it must not. It
 * looks for the key's random part, so a key shown without its prefix counts as a leak too.
 */
async function expectNoLeak(
  key: string,
  m: Machine,
  commands: string[][],
  options: { input?: string; allowStdout?: boolean } = {},
): Promise<CliRun[]> {
  const secret = key.slice(8, 40);
  const runs: CliRun[] = [];
  const leaks: string[] = [];
  for (const args of commands) {
    const run = await m.run(args, options.input === undefined ? {} : { input: options.input });
    runs.push(run);
    const label = `sekuire ${args.join(' ')} (exit ${run.code})`;
    if (run.stderr.includes(secret)) leaks.push(`${label}: stderr`);
    if (!options.allowStdout && run.stdout.includes(secret)) leaks.push(`${label}: stdout`);
  }
  expect(leaks).toEqual([]);
  return runs;
}

async function loggedIn(id: string): Promise<{ m: Machine; key: string; keyId: string }> {
  const { key, id: keyId } = await e2e.server.createKey();
  const m = e2e.machine(id);
  const runs = await expectNoLeak(
    key,
    m,
    [
      ['login', '--with-key', '--verbose'],
      ['login', '--with-key', '--json'],
    ],
    {
      input: key,
    },
  );
  expect(runs.map((run) => run.code)).toEqual([2, 0]);
  return { m, key, keyId };
}

describe('the key never leaks', () => {
  it('through every command that succeeds, as text and JSON', async () => {
    const { m, key } = await loggedIn('canary-ok');
    const runs = await expectNoLeak(key, m, withJson(EVERY_COMMAND));
    expect(runs.every((run) => run.code === 0)).toBe(true);
  });

  it('except where it is asked for: auth token and status --show-key (never in JSON)', async () => {
    const { m, key } = await loggedIn('canary-shown');
    const shown = await expectNoLeak(
      key,
      m,
      [
        ['auth', 'token'],
        ['auth', 'token', '--json'],
        ['status', '--show-key'],
      ],
      { allowStdout: true },
    );
    expect(shown.every((run) => run.stdout.includes(key))).toBe(true);
    await expectNoLeak(key, m, [['status', '--show-key', '--json']]);
  });

  it('through a copied auth.json on another device', async () => {
    const { m, key } = await loggedIn('canary-a');
    const b = e2e.machine('canary-b');
    mkdirSync(b.home, { recursive: true, mode: 0o700 });
    copyFileSync(m.authFile, b.authFile);
    const runs = await expectNoLeak(
      key,
      b,
      withJson([['status'], ['auth', 'whoami'], ['auth', 'test', '--verbose'], ...API_COMMANDS, ['logout']]),
    );
    expect(runs.map((run) => run.code)).toEqual([12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 0, 0]);
  });

  it('through a login refused because the key is bound elsewhere', async () => {
    const { key } = await loggedIn('canary-owner');
    const c = e2e.machine('canary-c');
    const runs = await expectNoLeak(key, c, withJson([['login', '--with-key']]), { input: key });
    expect(runs.map((run) => run.code)).toEqual([12, 12]);
  });

  it('through a key given as an argument or an option, and near misses', async () => {
    const { key } = await e2e.server.createKey();
    const c = e2e.machine('canary-argv');
    await expectNoLeak(key, c, [
      ['login', key],
      ['login', key, '--json'],
      ['status', `--key=${key}`],
    ]);
    await expectNoLeak(key, c, [['login', '--with-key']], { input: `${key}x` });
    await expectNoLeak(key, c, [['login', '--with-key']], { input: `SEKUIRE_API_KEY="${key}"` });
    await expectNoLeak(key, e2e.machine('canary-env', { SEKUIRE_API_KEY: key.slice(0, -1) }), [['status']]);
    await expectNoLeak(key, e2e.machine('canary-env2', { SEKUIRE_API_KEY: key }), [
      ['auth', 'test', '--verbose', '--json'],
    ]);
  });

  const secret = (key: string) => key.slice(8, 40);
  const misbehaving: [string, (key: string, recorder: string) => Handler][] = [
    ['a 503 echoing the key', (key) => json(503, { error: 'down', message: `echo ${key}` })],
    ['a 403 echoing the key', (key) => json(403, { error: 'forbidden', message: `no access for ${key}` })],
    [
      'a 403 echoing its random part',
      (key) => json(403, { error: 'forbidden', message: `for ${secret(key)}` }),
    ],
    [
      'a 402 with the key in upgrade_url',
      (key) => json(402, { error: 'plan_limit_exceeded', upgrade_url: `https://x.test/?k=${key}` }),
    ],
    ['a 400 echoing the key', (key) => json(400, { error: 'invalid_request', message: `bad key ${key}` })],
    [
      'a 409 naming the device after the key',
      (key) => json(409, { error: 'device_mismatch', bound_device: { name: secret(key), os: key } }),
    ],
    [
      'an HTML page with the key',
      (key) => (_request, response) => {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end(`<p>${key}</p>`);
      },
    ],
    [
      'a redirect to another origin carrying the key',
      (key, recorder) => (_request, response) => {
        response.writeHead(307, { location: `${recorder}/?key=${key}` });
        response.end();
      },
    ],
  ];
  it.each(misbehaving)('through %s', async (_name, handler) => {
    const { key } = await e2e.server.createKey();
    const recorder = await e2e.fake(json(200, {}));
    const backend = await e2e.fake(handler(key, recorder.url));
    const m = e2e.machine('canary-fake', { SEKUIRE_API_KEY: key, SEKUIRE_BACKEND_URL: backend.url });
    await expectNoLeak(
      key,
      m,
      withJson([['status'], ['auth', 'test', '--verbose'], ['auth', 'whoami'], ...API_COMMANDS]),
    );
    expect(recorder.requests).toEqual([]);
  });

  it('through sekuire api: errors, a refused origin, an audience that echoes the key', async () => {
    const { m, key } = await loggedIn('canary-api');
    const echo = await e2e.fake((request, response) => {
      const sent = String(request.headers['x-api-key']);
      response.writeHead(request.url === '/fail' ? 500 : 200, {
        'content-type': request.url === '/binary' ? 'application/octet-stream' : 'application/json',
        'x-echo': sent,
        location: `https://elsewhere.test/?key=${sent}`,
      });
      response.end(JSON.stringify({ message: `you sent ${sent}`, part: sent.slice(8, 40) }));
    });
    const runs = await expectNoLeak(
      key,
      m,
      withJson([
        ['api', '-X', 'POST', '/api/v1/cli/nothing-here', '-f', 'a=b', '-i', '--verbose'],
        ['api', `${echo.url}/x`, '-i', '--verbose'],
        ['api', `--backend=${echo.url}`, '/fail', '-i', '--verbose'],
        ['api', 'https://elsewhere.test/', '-H', `X-Copy: ${key}`],
      ]),
    );
    expect(runs.map((run) => run.code)).toEqual([1, 1, 2, 2, 13, 13, 2, 2]);
    const env = { SEKUIRE_AUDIENCES: echo.url };
    const echoed = await expectNoLeak(
      key,
      e2e.machine('canary-api-env', { SEKUIRE_API_KEY: key, ...env }),
      withJson([
        ['api', `${echo.url}/x`, '-i', '--verbose'],
        ['api', `${echo.url}/fail`, '-i', '--verbose'],
        ['api', `${echo.url}/binary`, '-i'],
      ]),
    );
    expect(echoed.map((run) => run.code)).toEqual([0, 0, 13, 13, 0, 0]);
    expect(echo.requests.length).toBeGreaterThan(0);
  });

  it('through a revoked key and logout', async () => {
    const { m, key, keyId } = await loggedIn('canary-revoked');
    await e2e.server.revokeKey(keyId);
    const runs = await expectNoLeak(
      key,
      m,
      withJson([['status'], ['auth', 'test', '--verbose'], ...API_COMMANDS, ['logout']]),
    );
    expect(runs.map((run) => run.code)).toEqual([11, 11, 11, 11, 11, 11, 11, 11, 0, 0]);
  });

  it('through a corrupt auth.json', async () => {
    const { key } = await e2e.server.createKey();
    const corrupt = e2e.machine('canary-corrupt');
    mkdirSync(corrupt.home, { recursive: true, mode: 0o700 });
    writeFileSync(corrupt.authFile, `{"api_key": "${key}", "broken": `, { mode: 0o600 });
    const runs = await expectNoLeak(key, corrupt, withJson([['status'], ['auth', 'token']]));
    expect(runs.every((run) => run.code === 15)).toBe(true);
    await expectNoLeak(key, corrupt, [['logout', '--json']]);
  });
});

/** One request and its answer, as recorded by a Client. */
interface Exchange {
  /** What the request was for, e.g. "POST /api/v1/keys". */
  readonly what: string;
  readonly status: number;
  readonly body: string;
}

/**
 * Talks to the reference server like a script or a browser (a cookie jar, the CSRF token of the
 * last page) and records every answer, so a test can ask which answers carried a secret.
 */
class Client {
  readonly exchanges: Exchange[] = [];
  private readonly jar = new Map<string, string>();
  private csrf = '';
  constructor(private readonly origin: string) {}

  async send(
    method: string,
    path: string,
    options: { json?: unknown; form?: Record<string, string>; bearer?: string } = {},
  ): Promise<Exchange> {
    const headers: Record<string, string> = {};
    if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
    if (this.jar.size > 0)
      headers.cookie = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ _csrf: this.csrf, ...options.form }).toString();
    }
    const response = await fetch(`${this.origin}${path}`, { method, headers, body, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = cookie.split(';');
      const [name = '', value = ''] = pair.split('=');
      const gone = value === '' || attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute));
      if (gone) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const exchange = { what: `${method} ${path}`, status: response.status, body: await response.text() };
    const token = /name="_csrf" value="([^"]+)"/.exec(exchange.body)?.[1];
    if (token !== undefined) this.csrf = token;
    this.exchanges.push(exchange);
    return exchange;
  }

  cookie(name: string): string | undefined {
    return this.jar.get(name);
  }

  /** The requests whose answer contained `secret`. */
  carrying(secret: string): string[] {
    return this.exchanges
      .filter((exchange) => exchange.body.includes(secret))
      .map((exchange) => exchange.what);
  }
}

const parsed = <T>(exchange: Exchange) => JSON.parse(exchange.body) as T;
const occurrences = (text: string, secret: string) => text.split(secret).length - 1;

describe('passwords, session tokens and keys on the dashboard and its API', () => {
  /** Everything the server said (stdout, stderr) and recorded (the audit trail), as one text. */
  async function serverRecord(): Promise<string> {
    return `${e2e.server.stdout()}\n${e2e.server.stderr()}\n${JSON.stringify(await e2e.server.audit())}`;
  }

  /** Fails naming each secret found in the server's output or audit trail. */
  async function expectNotRecorded(secrets: Record<string, string>): Promise<void> {
    const record = await serverRecord();
    const found = Object.entries(secrets)
      .filter(([, secret]) => record.includes(secret))
      .map(([name]) => name);
    expect(found).toEqual([]);
    // No session token of any kind, even one this test does not know of.
    expect(record).not.toMatch(/sek_(?:at|rt|ck)_/);
  }

  it('the API: a key only in its create or roll answer; passwords and tokens in no log and no audit entry', async () => {
    const email = `canary-api-${randomBytes(4).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(16).toString('hex')}`;
    const wrong = `wrong-${randomBytes(16).toString('hex')}`;
    await e2e.server.createUser(email, password);
    const api = new Client(e2e.server.url);

    expect((await api.send('POST', '/api/v1/auth/login', { json: { email, password: wrong } })).status).toBe(
      401,
    );
    const unknown = { email: `nobody-${email}`, password };
    expect((await api.send('POST', '/api/v1/auth/login', { json: unknown })).status).toBe(401);
    const first = parsed<{ access_token: string; refresh_token: string }>(
      await api.send('POST', '/api/v1/auth/login', { json: { email, password } }),
    );
    const rotated = parsed<{ access_token: string; refresh_token: string }>(
      await api.send('POST', '/api/v1/auth/refresh', { json: { refresh_token: first.refresh_token } }),
    );
    // A refresh token used twice ends the session: both of its tokens are refused from then on.
    const reused = await api.send('POST', '/api/v1/auth/refresh', {
      json: { refresh_token: first.refresh_token },
    });
    expect(reused.status).toBe(401);
    expect((await api.send('GET', '/api/v1/auth/me', { bearer: rotated.access_token })).status).toBe(401);
    const session = parsed<{ access_token: string; refresh_token: string }>(
      await api.send('POST', '/api/v1/auth/login', { json: { email, password } }),
    );
    const bearer = session.access_token;
    expect((await api.send('GET', '/api/v1/auth/me', { bearer })).status).toBe(200);

    const created = await api.send('POST', '/api/v1/keys', { bearer, json: { name: 'canary' } });
    expect(created.status).toBe(201);
    const { id, key } = parsed<{ id: string; key: string }>(created);
    const m = e2e.machine('canary-api');
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    expect((await m.run(['status'])).code).toBe(0);
    await api.send('GET', '/api/v1/keys', { bearer });
    await api.send('GET', `/api/v1/keys/${id}`, { bearer });
    await api.send('GET', '/api/v1/devices', { bearer });
    const roll = await api.send('POST', `/api/v1/keys/${id}/roll`, { bearer, json: { grace_seconds: 60 } });
    expect(roll.status).toBe(201);
    const rolled = parsed<{ id: string; key: string }>(roll);
    await api.send('GET', '/api/v1/keys', { bearer });
    expect((await api.send('DELETE', `/api/v1/keys/${rolled.id}`, { bearer })).status).toBe(200);
    // Secrets sent where they do not belong are refused without being echoed.
    expect((await api.send('GET', '/api/v1/keys', { bearer: key })).status).toBe(401);
    expect((await api.send('GET', '/api/v1/keys', { bearer: session.refresh_token })).status).toBe(401);
    expect((await api.send('POST', '/api/v1/auth/logout', { bearer })).status).toBe(200);
    expect((await api.send('GET', '/api/v1/keys', { bearer })).status).toBe(401);

    expect(api.carrying(key.slice(8, 40))).toEqual(['POST /api/v1/keys']);
    expect(occurrences(created.body, key.slice(8, 40))).toBe(1);
    expect(api.carrying(rolled.key.slice(8, 40))).toEqual([`POST /api/v1/keys/${id}/roll`]);
    expect(occurrences(roll.body, rolled.key.slice(8, 40))).toBe(1);
    for (const secret of [password, wrong]) expect(api.carrying(secret)).toEqual([]);
    expect(api.carrying(first.refresh_token)).toEqual(['POST /api/v1/auth/login']);
    expect(api.carrying(session.access_token)).toEqual(['POST /api/v1/auth/login']);
    expect(api.carrying(rotated.refresh_token)).toEqual(['POST /api/v1/auth/refresh']);
    await expectNotRecorded({
      password,
      'wrong password': wrong,
      key: key.slice(8, 40),
      'rolled key': rolled.key.slice(8, 40),
    });
  });

  it('the pages: a key only in the answer that shows it once; the cookie token in no page, log or audit entry', async () => {
    const email = `canary-web-${randomBytes(4).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(16).toString('hex')}`;
    const wrong = `wrong-${randomBytes(16).toString('hex')}`;
    await e2e.server.createUser(email, password);
    const web = new Client(e2e.server.url);
    const keysTab = '/dashboard/settings?tab=api-keys';

    await web.send('GET', '/login');
    expect((await web.send('POST', '/login', { form: { email, password: wrong } })).status).toBe(401);
    expect((await web.send('POST', '/login', { form: { email, password } })).status).toBe(303);
    const cookie = web.cookie('sekuire_session') ?? '';
    expect(cookie).toMatch(/^sek_ck_/);
    await web.send('GET', keysTab);
    const form = { name: 'canary', environment: 'test', type: 'client', expires: '30' };
    const created = await web.send('POST', '/dashboard/keys', { form });
    expect(created.status).toBe(200);
    const key = /id="new-key" class="mono" readonly value="([^"]+)"/.exec(created.body)?.[1] ?? '';
    expect(key).toMatch(/^sk_test_/);
    const id = /action="\/dashboard\/keys\/(key_[^/"]+)\/roll"/.exec(created.body)?.[1] ?? '';
    await web.send('GET', keysTab);
    await web.send('GET', `/dashboard/keys/${id}/roll`);
    const roll = await web.send('POST', `/dashboard/keys/${id}/roll`, { form: { grace: '3600' } });
    expect(roll.status).toBe(200);
    const rolled = /id="new-key" class="mono" readonly value="([^"]+)"/.exec(roll.body)?.[1] ?? '';
    expect(rolled).toMatch(/^sk_test_/);
    await web.send('GET', keysTab);
    await web.send('GET', '/dashboard/settings?tab=devices');
    await web.send('GET', `/dashboard/keys/${id}/revoke`);
    expect((await web.send('POST', `/dashboard/keys/${id}/revoke`, { form: {} })).status).toBe(303);
    expect((await web.send('POST', '/logout', { form: {} })).status).toBe(303);

    expect(web.carrying(key.slice(8, 40))).toEqual(['POST /dashboard/keys']);
    expect(occurrences(created.body, key.slice(8, 40))).toBe(1);
    expect(web.carrying(rolled.slice(8, 40))).toEqual([`POST /dashboard/keys/${id}/roll`]);
    expect(occurrences(roll.body, rolled.slice(8, 40))).toBe(1);
    for (const secret of [password, wrong, cookie]) expect(web.carrying(secret)).toEqual([]);
    await expectNotRecorded({
      password,
      'wrong password': wrong,
      'session cookie': cookie,
      key: key.slice(8, 40),
      'rolled key': rolled.slice(8, 40),
    });
  });
});

describe("the device's private key never leaves device-key.json", () => {
  /** The private scalar as it could show up: base64url (the JWK), base64, hex. */
  function forms(d: string): string[] {
    const bytes = Buffer.from(d, 'base64url');
    return [d, bytes.toString('base64').replace(/=+$/, ''), bytes.toString('hex')];
  }

  it('in no output, no request, no server log and no database byte', async () => {
    const { m } = await loggedIn('canary-device-key');
    const stored = JSON.parse(readFileSync(join(m.home, 'device-key.json'), 'utf8')) as { d: string };
    const secrets = forms(stored.d);
    const leaks: string[] = [];
    const look = (label: string, text: string) => {
      for (const form of secrets) if (text.includes(form)) leaks.push(label);
    };
    // Every command, verbose and as JSON, against the reference server.
    for (const args of withJson([...EVERY_COMMAND, ['auth', 'token'], ['status', '--show-key']])) {
      const run = await m.run(args);
      look(`sekuire ${args.join(' ')}: stdout`, run.stdout);
      look(`sekuire ${args.join(' ')}: stderr`, run.stderr);
    }
    // What goes over the wire, recorded by a backend of our own (named with --backend).
    const recorder = await e2e.fake(json(200, {}));
    for (const args of [
      ['status', '--backend', recorder.url],
      ['auth', 'whoami', '--backend', recorder.url],
    ]) {
      await m.run(args);
    }
    expect(recorder.requests.length).toBeGreaterThan(0);
    for (const request of recorder.requests) {
      look(`request ${request.url}: headers`, JSON.stringify(request.headers));
      look(`request ${request.url}: body`, request.body);
      // Signed, with the proof headers and nothing else of the key.
      expect(request.headers['signature-input']).toMatch(/^sekuire=\(/);
    }
    const logout = await m.run(['logout', '--json']);
    look('sekuire logout: stdout', logout.stdout);
    look('sekuire logout: stderr', logout.stderr);
    look('server log', e2e.server.stderr());
    for (const file of [e2e.server.dbPath, `${e2e.server.dbPath}-wal`]) {
      if (existsSync(file)) look(file, readFileSync(file).toString('latin1'));
    }
    expect(leaks).toEqual([]);
    // logout keeps the device key: it is the device's identity, not a credential of the key.
    expect(JSON.parse(readFileSync(join(m.home, 'device-key.json'), 'utf8')).d).toBe(stored.d);
  });
});
