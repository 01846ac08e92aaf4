// `sekuire-server start` as a process: Listening line, a real flow, SIGTERM, port in use, TLS, bad flags (their messages in process).

import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryDeviceKey, signed } from '../helpers/device-keys.js';
import { SERVER_PATH, startServer, type TestServer } from '../helpers/server.js';
import { runServer } from '../helpers/server-commands.js';
import { selfSignedCert } from '../helpers/tls.js';
import { NOBODY } from '../helpers/worker.js';

const FP = 'c'.repeat(64);
const servers: TestServer[] = [];
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'sekuire-start-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function started(options?: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(options);
  servers.push(server);
  return server;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `start` directly; onLine sees each stdout line (e.g. to send a signal). */
function runStart(
  args: string[],
  onLine?: (line: string, pid: number) => void,
  env: Record<string, string> = {},
): Promise<Exit> {
  const base: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SEKUIRE_SERVER_')) base[name] = value;
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVER_PATH, 'start', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...base, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      for (const line of chunk.split('\n').filter(Boolean)) onLine?.(line, child.pid as number);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('start', () => {
  it('prints the Listening line with the real port and serves a whole session', async () => {
    const server = await started();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);
    const health = await fetch(`${server.url}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const { key, id } = await server.createKey({ email: 'e2e@example.com', org: 'Acme', workspace: 'Ops' });
    const device = memoryDeviceKey();
    const body = JSON.stringify({
      device: {
        fingerprint: FP,
        name: 'box',
        os: 'linux',
        os_version: '1',
        arch: 'x64',
        public_key: device.publicJwk,
      },
    });
    const login = await fetch(`${server.url}/api/v1/cli/login`, {
      method: 'POST',
      headers: {
        'x-api-key': key,
        'content-type': 'application/json',
        ...signed(device, 'POST', `${server.url}/api/v1/cli/login`, body),
      },
      body,
    });
    expect(login.status).toBe(200);
    expect(((await login.json()) as { organization: { name: string } }).organization.name).toBe('Acme');
    const headers = () => ({
      'x-api-key': key,
      'x-sekuire-device': FP,
      ...signed(device, 'GET', `${server.url}/api/v1/cli/status`, undefined),
    });
    expect((await fetch(`${server.url}/api/v1/cli/status`, { headers: headers() })).status).toBe(200);

    await server.revokeKey(id);
    const revoked = await fetch(`${server.url}/api/v1/cli/status`, { headers: headers() });
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toEqual({ error: 'key_revoked', message: 'This API key has been revoked.' });

    const events = (await server.audit(id)) as {
      event: string;
      client_ip: string | null;
      fingerprint: string | null;
    }[];
    expect(events.map((event) => event.event)).toEqual(['create', 'bind', 'revoke']);
    expect(events[1]).toMatchObject({ client_ip: '127.0.0.1', fingerprint: FP });
    expect(await server.audit()).toHaveLength(3);
  });

  it('--allow-self-rebind says at start-up what it gives away', async () => {
    const server = await started({ args: ['--allow-self-rebind'] });
    // The warning follows the Listening line, on the other stream: wait for it, a few seconds at most.
    for (let waited = 0; !server.stderr().includes('Warning:') && waited < 5_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(server.stderr()).toContain(
      "Warning: --allow-self-rebind: 'sekuire login --rebind' moves a binding without anyone's approval, so whoever holds a key can move it to their own device. Use it for test setups only.\n",
    );
  });

  it('an expired key from createKey({ expiresInDays: 0 }) gets key_expired', async () => {
    const server = await started();
    const { key } = await server.createKey({ expiresInDays: 0, env: 'live' });
    expect(key.startsWith('sk_live_')).toBe(true);
    const response = await fetch(`${server.url}/api/v1/cli/whoami`, {
      headers: { 'x-api-key': key, 'x-sekuire-device': FP },
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toBe('key_expired');
  });

  it('SIGTERM closes the server and the database and exits 0; SIGINT too', async () => {
    const db = join(scratch, 'signal.db');
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      let url = '';
      const exit = await runStart(['--port', '0', '--db', db], (line, pid) => {
        if (!line.startsWith('Listening on ')) return;
        url = line.replace('Listening on ', '');
        fetch(`${url}/api/v1/health`).then(() => process.kill(pid, signal));
      });
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.stdout).toBe(
        `Listening on ${url}\nDashboard: ${url}/dashboard\nNobody can sign in yet. Create a user: sekuire-server create-user --db ${db} --email you@example.com\n`,
      );
      expect(exit.stderr).toContain(`Received ${signal}, shutting down\n`);
      await expect(fetch(`${url}/api/v1/health`)).rejects.toThrow();
    }
    // Closed cleanly: the WAL was checkpointed away.
    expect(() => readFileSync(`${db}-wal`)).toThrow();
  });

  it('a port in use is a clear error, exit 1', async () => {
    const server = await started();
    const port = new URL(server.url).port;
    const exit = await runStart(['--port', port, '--db', join(scratch, 'busy.db')]);
    expect(exit.code).toBe(1);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toContain(
      `error: Port ${port} on 127.0.0.1 is already in use by another program (another sekuire-server, perhaps). To take any free port instead: --port 0.\n`,
    );
    const fromEnv = await runStart(['--db', join(scratch, 'busy-env.db')], undefined, {
      SEKUIRE_SERVER_PORT: port,
    });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toContain(
      `error: Port ${port} on 127.0.0.1 is already in use by another program (another sekuire-server, perhaps). To take any free port instead: SEKUIRE_SERVER_PORT=0.\n`,
    );
    expect(exit.stderr).not.toMatch(/\n\s+at /);
  });

  it('a database in a read-only directory: says so, not the secret file that is there', async () => {
    // Its own parent: the scratch directory is 0700, which nobody cannot even pass through.
    const parent = mkdtempSync(join(tmpdir(), 'sekuire-read-only-'));
    chmodSync(parent, 0o755);
    const dir = join(parent, 'read-only');
    mkdirSync(dir);
    const db = join(dir, 'ro.db');
    // Made by a first start (the database and its secret), then the directory is made read-only
    // for the user that runs the server (root writes anywhere, so the server runs as nobody).
    const first = await runStart(['--port', '0', '--db', db], (line, pid) => {
      if (line.startsWith('Listening on ')) process.kill(pid, 'SIGTERM');
    });
    expect(first.code).toBe(0);
    chownSync(dir, NOBODY, NOBODY);
    for (const name of ['ro.db', 'ro.db.secret']) chownSync(join(dir, name), NOBODY, NOBODY);
    chmodSync(dir, 0o555);
    const run = spawnSync(process.execPath, [SERVER_PATH, 'start', '--port', '0', '--db', db], {
      uid: NOBODY,
      gid: NOBODY,
      encoding: 'utf8',
      timeout: 60_000,
    });
    rmSync(parent, { recursive: true, force: true });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      `error: Cannot open the database ${db}: its directory ${dir} is read-only for this user, and SQLite writes its journal (ro.db-wal) beside the database. Move the database and its .secret file to a directory this user can write, and point --db there.\n`,
    );
  });

  it('takes host, port and database from the environment; flags win', async () => {
    const server = await started({ env: { SEKUIRE_SERVER_PORT: '1', SEKUIRE_SERVER_HOST: '0.0.0.0' } });
    // The helper passes --host 127.0.0.1 --port 0, which win over the environment.
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const db = join(scratch, 'from-env.db');
    const env = { SEKUIRE_SERVER_PORT: '0', SEKUIRE_SERVER_HOST: '127.0.0.1', SEKUIRE_SERVER_DB: db };
    const exit = await runStart(
      [],
      (line, pid) => line.startsWith('Listening on ') && process.kill(pid, 'SIGTERM'),
      env,
    );
    expect(exit.code).toBe(0);
    expect(exit.stdout).toMatch(/^Listening on http:\/\/127\.0\.0\.1:\d+\n/);
    expect(exit.stderr).toContain(`Created the server secret ${db}.secret`);
    expect(readFileSync(db).subarray(0, 15).toString()).toBe('SQLite format 3');
  });

  it.each([
    [
      ['--port', '70000'],
      'error: --port must be a port number from 0 to 65535 (0 picks a free port), not "70000".\n',
    ],
    [
      ['--port', 'http'],
      'error: --port must be a port number from 0 to 65535 (0 picks a free port), not "http".\n',
    ],
    [
      ['--tls-cert', 'cert.pem'],
      'error: --tls-cert and --tls-key go together: give both (PEM files) or neither.\n',
    ],
    [
      ['--tls-cert', 'nope.pem', '--tls-key', 'nope.pem'],
      'error: Cannot read --tls-cert nope.pem: ENOENT.\n',
    ],
    [['--verbose'], "error: unknown option '--verbose'\n(add --help for usage)\n"],
    [
      ['--trust-proxy', 'proxy.internal'],
      'error: --trust-proxy takes a hop count (1 for one proxy in front) or a comma-separated list of addresses and CIDRs (127.0.0.1,10.0.0.0/8, or loopback), not "proxy.internal": "proxy.internal" is not an IP address.\n',
    ],
    ...[
      'sekuire.example.com',
      'ftp://sekuire.example.com',
      'https://sekuire.example.com/api',
      'https://u@x.example',
    ].map((url): [string[], string] => [
      ['--public-url', 'https://ok.example', '--public-url', url],
      `error: --public-url must be an origin like https://sekuire.example.com (http or https, a host, a port if not the default; no path), not "${url}".\n`,
    ]),
    [
      ['--secret-scanning-keys', 'file:///etc/keys.json'],
      'error: --secret-scanning-keys: only http(s) URLs are fetched, not file:\n',
    ],
  ])('%j -> exit 2 before listening', async (args, message) => {
    // In this process (run(ctx, argv)): the checks come before anything listens, and a process
    // of its own costs a third of a second each. Exit 2 through a real process: the next test.
    const exit = await runServer(['start', ...args, '--db', join(scratch, 'flags.db')]);
    expect(exit).toEqual({ code: 2, stdout: '', stderr: message });
  });

  it('an invalid SEKUIRE_SERVER_PORT is a usage error naming the variable', async () => {
    const exit = await runStart(['--db', join(scratch, 'env.db')], undefined, { SEKUIRE_SERVER_PORT: 'abc' });
    expect(exit).toEqual({
      code: 2,
      signal: null,
      stdout: '',
      stderr:
        'error: SEKUIRE_SERVER_PORT must be a port number from 0 to 65535 (0 picks a free port), not "abc".\n',
    });
  });
});

describe('start --secret-scanning-keys', () => {
  it('a file is read at start: unusable, exit 1; usable (from the variable), reports are checked against it', async () => {
    const missing = join(scratch, 'no-such-keys.json');
    const exit = await runStart(['--db', join(scratch, 'keys.db'), '--secret-scanning-keys', missing]);
    expect(exit.code).toBe(1);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toMatch(
      /^error: Cannot use the secret-scanning keys in .*no-such-keys\.json: ENOENT/,
    );
    const file = join(scratch, 'keys.json');
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(
      file,
      JSON.stringify({
        public_keys: [
          { key_identifier: 'k1', key: publicKey.export({ type: 'spki', format: 'pem' }), is_current: true },
        ],
      }),
    );
    const server = await started({ env: { SEKUIRE_SECRET_SCANNING_KEYS: file } });
    const response = await fetch(`${server.url}/api/v1/secret-scanning/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'github-public-key-identifier': 'k1',
        'github-public-key-signature': 'MEQCIA==',
      },
      body: '[]',
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_signature');
  });
});

describe('start --trust-proxy', () => {
  /** The name of the CSRF cookie /login sets for a request that says it came over https. */
  const csrfCookieFor = async (server: TestServer) => {
    const response = await fetch(`${server.url}/login`, { headers: { 'x-forwarded-proto': 'https' } });
    return response.headers.getSetCookie().map((line) => line.slice(0, line.indexOf('=')));
  };

  it('takes SEKUIRE_SERVER_TRUST_PROXY; the flag wins; without either the header is ignored', async () => {
    const [fromEnv, flagWins, neither] = await Promise.all([
      started({ env: { SEKUIRE_SERVER_TRUST_PROXY: '127.0.0.1' } }),
      started({ env: { SEKUIRE_SERVER_TRUST_PROXY: '127.0.0.1' }, args: ['--trust-proxy', '10.9.9.9'] }),
      started(),
    ]);
    expect(await csrfCookieFor(fromEnv)).toEqual(['__Host-sekuire_csrf']);
    expect(await csrfCookieFor(flagWins)).toEqual(['sekuire_csrf']);
    expect(await csrfCookieFor(neither)).toEqual(['sekuire_csrf']);
  });

  it('an invalid SEKUIRE_SERVER_TRUST_PROXY is a usage error naming the variable', async () => {
    const exit = await runStart(['--db', join(scratch, 'env.db')], undefined, {
      SEKUIRE_SERVER_TRUST_PROXY: '0',
    });
    expect(exit).toEqual({
      code: 2,
      signal: null,
      stdout: '',
      stderr:
        'error: SEKUIRE_SERVER_TRUST_PROXY takes a hop count (1 for one proxy in front) or a comma-separated list of addresses and CIDRs (127.0.0.1,10.0.0.0/8, or loopback); 0 trusts no proxy: leave SEKUIRE_SERVER_TRUST_PROXY out instead.\n',
    });
  });
});

describe('start with TLS', () => {
  let cert: string;
  let key: string;
  beforeAll(() => {
    ({ cert, key } = selfSignedCert(scratch, ['localhost', '127.0.0.1']));
  });

  it('serves /api/v1/health over https with the self-signed certificate', async () => {
    const server = await started({ tls: { cert, key } });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(cert);
    const answer = await new Promise<{ status: number; body: string; cacheControl: unknown }>(
      (resolve, reject) => {
        const req = request(`${server.url}/api/v1/health`, { ca }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            body += chunk;
          });
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              body,
              cacheControl: response.headers['cache-control'],
            }),
          );
        });
        req.on('error', reject);
        req.end();
      },
    );
    expect(answer).toEqual({ status: 200, body: '{"status":"ok"}', cacheControl: 'no-store' });
    // Plain HTTP to the TLS port gets no API answer.
    await expect(fetch(server.url.replace('https:', 'http:'))).rejects.toThrow();
  });

  it('accepts PEM text as well as paths, and refuses a key that does not match', async () => {
    const server = await started({
      tls: { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') },
    });
    expect(server.url.startsWith('https://')).toBe(true);
    const exit = await runStart([
      '--port',
      '0',
      '--db',
      join(scratch, 'tls.db'),
      '--tls-cert',
      cert,
      '--tls-key',
      cert,
    ]);
    expect(exit.code).toBe(2);
    expect(exit.stderr).toMatch(
      /^error: The TLS certificate and key cannot be used \(.+\); both must be PEM files/,
    );
  });
});
