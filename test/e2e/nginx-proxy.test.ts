// Behind a real nginx (TLS ends there) in front of two instances on one PostgreSQL, with --trust-proxy.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { Machine } from '../helpers/cli.js';
import { memoryDeviceKey, signed } from '../helpers/device-keys.js';
import { describeOnPostgres } from '../helpers/engines.js';
import { httpsRequest } from '../helpers/https-request.js';
import { HttpsSession } from '../helpers/https-session.js';
import { freePort, type Nginx, startNginx } from '../helpers/nginx.js';
import { createDatabase, dropDatabase } from '../helpers/postgres.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../helpers/server.js';
import { selfSignedCert } from '../helpers/tls.js';

/** What an approval page's selects send untouched: the one default for a new key (test, 90 days). */
const PRESELECTED = { environment: 'test', expires: '90' };

interface AuditEvent {
  readonly event: string;
  readonly client_ip: string | null;
}

describeOnPostgres('nginx in front of two instances, --trust-proxy 127.0.0.1', () => {
  let dir: string;
  let database: string;
  let ca: string;
  let caFile: string;
  let a: TestServer;
  let b: TestServer;
  let proxy: Nginx;

  beforeAll(async () => {
    const cluster = inject('postgres');
    if (cluster === null) return;
    dir = mkdtempSync(join(tmpdir(), 'sekuire-nginx-test-'));
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, `${'5e'.repeat(32)}\n`, { mode: 0o600 });
    const pair = selfSignedCert(dir, ['127.0.0.1', 'localhost']);
    caFile = pair.cert;
    ca = readFileSync(pair.cert, 'utf8');
    database = await createDatabase(cluster.adminUrl);
    // nginx connects to the instances from 127.0.0.1: that one hop is trusted, no other. Clients
    // sign their proofs for the proxy's origin, which each instance is told it serves.
    const proxyPort = await freePort();
    const args = ['--trust-proxy', '127.0.0.1', '--public-url', `https://127.0.0.1:${proxyPort}`];
    [a, b] = await Promise.all([
      startServer({ database, secretFile, args }),
      startServer({ database, secretFile, args }),
    ]);
    proxy = await startNginx({
      port: proxyPort,
      upstreams: [a, b].map((server) => new URL(server.url).host),
      cert: pair.cert,
      key: pair.key,
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    const cluster = inject('postgres');
    if (cluster !== null && database !== undefined) await dropDatabase(cluster.adminUrl, database);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** A status with a key that does not exist, from `from` (a loopback address of this machine). */
  const badKey = async (from: string) =>
    (
      await httpsRequest(`${proxy.url}/api/v1/cli/status`, {
        ca,
        localAddress: from,
        headers: { 'x-api-key': 'sk_test_nope', 'x-forwarded-for': '203.0.113.66' },
      })
    ).status;

  const events = async (name: string, keyId?: string) =>
    ((await a.audit(keyId)) as AuditEvent[])
      .filter((event) => event.event === name)
      .map((event) => event.client_ip);

  it("each client's failed key checks count for that client alone, whatever X-Forwarded-For it writes", async () => {
    // Round-robin alternates the instances, and each counts 30 failures per address: the 61st and
    // 62nd of 127.0.0.2 are the first over the limit on each. The address the client wrote
    // (203.0.113.66) counts for nothing: nginx appended the real one, the only one believed.
    const answers: number[] = [];
    for (let i = 0; i < 62; i++) answers.push(await badKey('127.0.0.2'));
    expect(answers).toEqual([...Array<number>(60).fill(401), 429, 429]);
    expect(await badKey('127.0.0.3')).toBe(401);
    expect(await events('rate_limited')).toEqual(['127.0.0.2', '127.0.0.2']);
  });

  it('a binding and a sign-in are audited with their own addresses; Devices shows the device’s; cookies are __Host- and Secure', async () => {
    const { key, id } = await a.createKey({ email: 'ada@example.com' });
    await a.createUser('ada@example.com');
    const device = memoryDeviceKey();
    const body = JSON.stringify({
      device: {
        fingerprint: 'd'.repeat(64),
        name: 'ada-laptop',
        os: 'linux',
        os_version: 'Debian 12',
        arch: 'x64',
        public_key: device.publicJwk,
      },
    });
    const bound = await httpsRequest(`${proxy.url}/api/v1/cli/login`, {
      ca,
      localAddress: '127.0.0.2',
      method: 'POST',
      headers: {
        'x-api-key': key,
        'content-type': 'application/json',
        ...signed(device, 'POST', `${proxy.url}/api/v1/cli/login`, body),
      },
      body,
    });
    expect(bound.status).toBe(200);
    expect(await events('bind', id)).toEqual(['127.0.0.2']);

    const ada = new HttpsSession(proxy.url, ca, '127.0.0.3');
    const page = await ada.get('/login');
    expect(page.setCookie).toEqual([
      expect.stringMatching(/^__Host-sekuire_csrf=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/),
    ]);
    expect(page.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const signedIn = await ada.post('/login', {
      email: 'ada@example.com',
      password: 'correct horse battery',
    });
    expect(signedIn.status).toBe(303);
    expect(signedIn.setCookie).toEqual([
      expect.stringMatching(
        /^__Host-sekuire_session=sek_ck_\w+; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/,
      ),
      expect.stringMatching(
        /^__Host-sekuire_known=[^;]+; Max-Age=15552000; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
      ),
    ]);
    expect(await events('sign_in')).toEqual(['127.0.0.3']);
    // The next request goes to the other instance: the session is the database's, not one process's.
    const devices = await ada.get('/dashboard/settings?tab=devices');
    expect(devices.status).toBe(200);
    expect(devices.body).toContain('<td data-label="Last address" class="mono">127.0.0.2</td>');
  });

  it('login --device: the CLI is sent to the proxy’s https origin, a person approves there, status works', async () => {
    await a.createUser('bob@example.com');
    const bob = new HttpsSession(proxy.url, ca, '127.0.0.3');
    expect((await bob.signIn('bob@example.com')).status).toBe(303);
    const machine = new Machine('nginx-device', {
      SEKUIRE_BACKEND_URL: proxy.url,
      NODE_EXTRA_CA_CERTS: caFile,
    });
    try {
      const cli = machine.start(['login', '--device'], { timeoutMs: 60_000 });
      const [, code = ''] = await cli.waitFor(/2\. Enter the code: ([A-Z]{4}-[A-Z]{4})\n/, 'stderr');
      expect(cli.stderr()).toContain(`1. Go to: ${proxy.url}/device\n`);
      const page = await bob.get(`/device?code=${code}`);
      const grant = /name="grant" value="(grant_\w+)"/.exec(page.body)?.[1] ?? '';
      expect((await bob.post('/device', { grant, code, ...PRESELECTED, decision: 'authorize' })).status).toBe(
        200,
      );
      const done = await cli.done;
      expect(done.stdout).toMatch(/^Login successful! API Key verified and bound to this device\.\n/);
      expect(done.code).toBe(0);
      expect((await machine.run(['status'])).code).toBe(0);
      expect(await events('cli_approve')).toEqual(['127.0.0.3']);
    } finally {
      machine.cleanup();
    }
  });

  it('Chromium signs in through nginx: it keeps the __Host- Secure cookies and the dashboard opens', async () => {
    await a.createUser('cy@example.com');
    const browser = await launchChromium();
    try {
      // The throwaway CA is not the browser's to trust; the scheme (https) is what cookies care about.
      const context = await browser.newContext({ baseURL: proxy.url, ignoreHTTPSErrors: true });
      const page = await context.newPage();
      await page.goto('/login');
      await page.getByLabel('Email', { exact: true }).fill('cy@example.com');
      await page.getByLabel('Password', { exact: true }).fill(TEST_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'API Keys', exact: true }).waitFor();
      expect(page.url()).toBe(`${proxy.url}/dashboard/settings?tab=api-keys`);
      const cookies = (await context.cookies()).map(({ name, secure, path }) => ({ name, secure, path }));
      expect(cookies.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
        { name: '__Host-sekuire_csrf', secure: true, path: '/' },
        { name: '__Host-sekuire_known', secure: true, path: '/' },
        { name: '__Host-sekuire_session', secure: true, path: '/' },
      ]);
    } finally {
      await browser.close();
    }
  });
});
