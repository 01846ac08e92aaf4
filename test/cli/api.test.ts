// sekuire api in process: the reference server for the backend, a recording server of our own for another audience.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authorityOf, parsePublicJwk } from '@sekuire/shared/proof-format';
import { describe, expect, it } from 'vitest';
import { apiArgs } from '../../packages/cli/src/cli/api-argv.js';
import { ProofVerifier, storedDeviceKey } from '../../packages/server/src/domain/proofs.js';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { json, type Recorded } from '../helpers/fake-backend.js';
import { startServer } from '../helpers/server.js';

const backend = useBackend({ SEKUIRE_RETRIES: '0' });

async function loggedIn(name: string): Promise<{ m: TestMachine; key: string; id: string }> {
  const { key, id } = await backend.server.createKey({ email: `${name}@example.com` });
  const m = backend.machine(name);
  const login = await m.run(['login', '--with-key'], { input: key });
  expect(login.code).toBe(0);
  return { m, key, id };
}

/**
 * Whether the recorded request carries a proof this machine's device key made for exactly what
 * arrived, checked by the server's own verifier as a server at `origin` checks it: the proof must
 * name that origin's authority (a proof without "@authority" is refused, as after the cut-over).
 * `deviceKeyFile`: the default profile's key unless another profile's is named.
 */
async function proofVerdict(
  m: TestMachine,
  request: Recorded,
  origin: string,
  body: string | Buffer = request.body,
  deviceKeyFile = join(m.home, 'device-key.json'),
) {
  const stored = JSON.parse(readFileSync(deviceKeyFile, 'utf8')) as unknown;
  const jwk = parsePublicJwk(stored);
  if (jwk === undefined) throw new Error('no device key');
  const header = (name: string) => request.headers[name] as string | undefined;
  const served = authorityOf(new URL(origin));
  return new ProofVerifier({ now: () => new Date(), legacyProofsUntil: new Date(0) }).verify(
    {
      method: request.method,
      authority: header('host'),
      target: request.url,
      // The server reads bodies as text; bytes that are not UTF-8 are checked as they came.
      body: body as string,
      signatureInput: header('signature-input'),
      signature: header('signature'),
      contentDigest: header('content-digest'),
    },
    storedDeviceKey(jwk),
    { serves: (authority) => authority === served },
  );
}

const sha256 = (bytes: Buffer | string) => `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`;

describe('sekuire api against the backend of the key in use', () => {
  it('prints the answer as it came, signed with the device key of a bound login', async () => {
    const { m, id } = await loggedIn('api-bound');
    const run = await m.run(['api', '/api/v1/cli/status']);
    expect([run.code, run.stderr]).toEqual([0, '']);
    const body = JSON.parse(run.stdout) as { key: { id: string }; device: { key_thumbprint: string } };
    expect(body.key.id).toBe(id);
    // Not pretty-printed: stdout is not a terminal.
    expect(run.stdout).not.toContain('\n');
    const pretty = await m.run(['api', 'api/v1/cli/whoami'], { tty: { stdout: true } });
    expect(pretty.code).toBe(0);
    expect(pretty.stdout).toMatch(/^\{\n {2}"user": \{\n/);
    expect(pretty.stdout.endsWith('}\n')).toBe(true);
  });

  it('prints the status line and headers on stderr with -i, nothing of the body with --silent', async () => {
    const { m } = await loggedIn('api-include');
    const run = await m.run(['api', '-i', '--silent', '/api/v1/cli/status']);
    expect([run.code, run.stdout]).toEqual([0, '']);
    const lines = run.stderr.split('\n');
    expect(lines[0]).toBe('HTTP 200 OK');
    expect(lines).toContain('content-type: application/json; charset=utf-8');
    expect(run.stderr.endsWith('\n\n')).toBe(true);
  });

  it('prints one object with --json: status, headers, the body parsed', async () => {
    const { m } = await loggedIn('api-json');
    const run = await m.run(['api', '/api/v1/cli/whoami', '--json']);
    expect(run.code).toBe(0);
    const answer = run.json<{
      status: number;
      headers: Record<string, string>;
      body: { user: { email: string } };
    }>();
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.body.user.email).toBe('api-json@example.com');
    const missing = await m.run(['api', '/api/v1/cli/nothing-here', '--json']);
    expect(missing.code).toBe(1);
    expect(missing.json()).toMatchObject({
      status: 404,
      body: { error: 'not_found', message: 'No such endpoint.' },
    });
    expect(missing.stderr).toBe('HTTP 404 Not Found: No such endpoint.\n');
  });

  it('maps statuses to exit codes: 404 is 1, 401 is 11, 403 is 14, no answer is 13', async () => {
    const { m, id } = await loggedIn('api-codes');
    const missing = await m.run(['api', '/api/v1/cli/nothing-here']);
    expect([missing.code, missing.stdout, missing.stderr]).toEqual([
      1,
      '{"error":"not_found","message":"No such endpoint."}',
      'HTTP 404 Not Found: No such endpoint.\n',
    ]);
    const server = await backend.server.createKey({ type: 'server' });
    const forbidden = await backend
      .machine('api-server-key', { SEKUIRE_API_KEY: server.key })
      .run(['api', '/api/v1/cli/login', '--input', '-'], {
        input: JSON.stringify({
          device: { fingerprint: 'a'.repeat(64), name: 'ci', os: 'linux', os_version: '12', arch: 'x64' },
        }),
      });
    expect(forbidden.code).toBe(14);
    expect(forbidden.stderr).toMatch(/^HTTP 403 Forbidden: This is a server key/);
    const refused = await m.run(['api', '/api/v1/cli/status', '--backend', 'http://127.0.0.1:1']);
    expect([refused.code, refused.stdout]).toEqual([13, '']);
    expect(refused.stderr).toBe(
      'Connection to 127.0.0.1:1 refused.\nCheck the URL, your network and that the server is up, then try again\n',
    );
    await backend.server.revokeKey(id);
    const revoked = await m.run(['api', '/api/v1/cli/status']);
    expect(revoked.code).toBe(11);
    expect(revoked.stderr).toBe('HTTP 401 Unauthorized: This API key has been revoked.\n');
  });

  it('works with a server key from SEKUIRE_API_KEY (no device key, no proof)', async () => {
    const { key, id } = await backend.server.createKey({ type: 'server' });
    const m = backend.machine('api-server', { SEKUIRE_API_KEY: key });
    const run = await m.run(['api', '/api/v1/cli/status', '--json']);
    expect(run.code).toBe(0);
    expect(run.json<{ body: { key: { id: string } } }>().body.key.id).toBe(id);
  });

  it('signs a bound key given in SEKUIRE_API_KEY with this device key, as status does', async () => {
    const { m, key } = await loggedIn('api-env');
    const run = await m.run(['api', '/api/v1/cli/status'], { env: { SEKUIRE_API_KEY: key } });
    expect(run.code).toBe(0);
    // Another machine holds no device key: the backend says the key is bound elsewhere (409).
    const other = await backend
      .machine('api-env-other', { SEKUIRE_API_KEY: key })
      .run(['api', '/api/v1/cli/status']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^HTTP 409 Conflict: /);
  });

  it('answers 5xx with exit 13, the body still on stdout', async () => {
    const { m } = await loggedIn('api-5xx');
    const down = await backend.fake(json(503, { error: 'maintenance', message: 'Back at noon.' }));
    const run = await m.run(['api', '/api/v1/cli/status', '--backend', down.url]);
    expect([run.code, run.stdout, run.stderr]).toEqual([
      13,
      '{"error":"maintenance","message":"Back at noon."}',
      'HTTP 503 Service Unavailable: Back at noon.\n',
    ]);
  });
});

describe('sekuire api to another origin', () => {
  it('refuses an origin that is not listed, before any connection (exit 2)', async () => {
    const { m } = await loggedIn('api-refused');
    const other = await backend.fake(json(200, {}));
    const run = await m.run(['api', `${other.url}/v1/jobs`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `Not sending the key to ${other.url}: it is neither the backend of the key in use (${backend.server.url}) nor an audience you listed.\nIf ${other.url} is meant to receive this key, run 'sekuire config set audiences ${other.url}'\n`,
    );
    for (const url of [
      'ftp://127.0.0.1/x',
      `http://user:pw@${other.url.slice(7)}/x`,
      'http://example.com/x',
    ]) {
      expect((await m.run(['api', url])).code, url).toBe(2);
    }
    expect(other.requests).toEqual([]);
  });

  it('checks audiences as origins: https, or http to loopback only', async () => {
    const m = backend.machine('api-audiences');
    for (const bad of [
      'http://api.example.com',
      'https://api.example.com/v1',
      'api.example.com',
      'https://u@a.example.com',
    ]) {
      const run = await m.run(['config', 'set', 'audiences', bad]);
      expect(run.code, bad).toBe(2);
    }
    const set = await m.run([
      'config',
      'set',
      'audiences',
      'https://api.example.com/, http://127.0.0.1:8080,https://api.example.com',
    ]);
    expect(set.code).toBe(0);
    expect((await m.run(['config', 'get', 'audiences'])).stdout).toBe(
      'https://api.example.com,http://127.0.0.1:8080\n',
    );
  });

  it('sends fields as one JSON body, signed over exactly those bytes', async () => {
    const { m, key } = await loggedIn('api-fields');
    const audience = await backend.fake(json(201, { id: 'job_1' }));
    expect((await m.run(['config', 'set', 'audiences', audience.url])).code).toBe(0);
    writeFileSync(join(m.dir, 'note.txt'), 'line one\nline two\n');
    const run = await m.run(
      [
        'api',
        `${audience.url}/v1/jobs?dry=1`,
        '-f',
        'name=nightly',
        '-f',
        'count=3',
        '-F',
        'retries=3',
        '-F',
        'ratio=0.5',
        '-F',
        'on=true',
        '-F',
        'none=null',
        '-F',
        'note=@note.txt',
        '-H',
        'X-Trace: abc',
      ],
      {},
    );
    expect([run.code, run.stdout, run.stderr]).toEqual([0, '{"id":"job_1"}', '']);
    const [request] = audience.requests;
    if (request === undefined) throw new Error('nothing arrived');
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v1/jobs?dry=1');
    expect(request.body).toBe(
      '{"name":"nightly","count":"3","retries":3,"ratio":0.5,"on":true,"none":null,"note":"line one\\nline two\\n"}',
    );
    expect(request.headers['x-api-key']).toBe(key);
    expect(request.headers['x-trace']).toBe('abc');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['content-digest']).toBe(sha256(request.body));
    expect(await proofVerdict(m, request, audience.url)).toEqual({ ok: true });
  });

  it("signs an audience's request for that audience's authority: its proof is not one for the backend", async () => {
    const { m } = await loggedIn('api-authority');
    const audience = await backend.fake(json(200, {}));
    const run = await m.run(['api', `${audience.url}/v1/deploy`, '-f', 'ref=main'], {
      env: { SEKUIRE_AUDIENCES: audience.url },
    });
    expect(run.code).toBe(0);
    const [request] = audience.requests;
    if (request === undefined) throw new Error('nothing arrived');
    expect(request.headers['signature-input']).toMatch(/^sekuire=\([^)]*"@authority"[^)]*\)/);
    expect(request.headers.host).toBe(authorityOf(new URL(audience.url)));
    expect(await proofVerdict(m, request, audience.url)).toEqual({ ok: true });
    // The same proof shown to the backend (another authority) is refused.
    expect(
      await proofVerdict(
        m,
        { ...request, headers: { ...request.headers, host: authorityOf(new URL(backend.server.url)) } },
        backend.server.url,
      ),
    ).toMatchObject({
      ok: false,
      code: 'invalid_proof',
    });
  });

  it('sends fields as query parameters with GET, and --input as is beside them', async () => {
    const { m } = await loggedIn('api-query');
    const audience = await backend.fake(json(200, []));
    const env = { SEKUIRE_AUDIENCES: audience.url };
    const get = await m.run(
      ['api', `${audience.url}/v1/items`, '-X', 'GET', '-f', 'q=disk space', '-F', 'n=2'],
      { env },
    );
    expect(get.code).toBe(0);
    const bytes = Buffer.from([0, 255, 254, 10, 13, 128, 65]);
    writeFileSync(join(m.dir, 'blob.bin'), bytes);
    const put = await m.run(
      [
        'api',
        '-X',
        'PUT',
        `${audience.url}/v1/blob`,
        '--input',
        'blob.bin',
        '-f',
        'v=2',
        '-H',
        'Content-Type: application/octet-stream',
      ],
      { env },
    );
    expect(put.code).toBe(0);
    const piped = await m.run(['api', `${audience.url}/v1/raw`, '--input', '-'], {
      env,
      input: 'plain text',
    });
    expect(piped.code).toBe(0);
    const [first, second, third] = audience.requests;
    expect([first?.method, first?.url, first?.body]).toEqual(['GET', '/v1/items?q=disk+space&n=2', '']);
    expect([second?.method, second?.url, second?.headers['content-type']]).toEqual([
      'PUT',
      '/v1/blob?v=2',
      'application/octet-stream',
    ]);
    expect(second?.bytes.equals(bytes)).toBe(true);
    expect(second?.headers['content-digest']).toBe(sha256(bytes));
    expect([third?.method, third?.body]).toEqual(['POST', 'plain text']);
    for (const [request, body] of [
      [first, ''],
      [second, bytes],
      [third, 'plain text'],
    ] as const) {
      if (request === undefined) throw new Error('a request is missing');
      expect(await proofVerdict(m, request, audience.url, body)).toEqual({ ok: true });
    }
  });

  it('prints a binary answer byte for byte, and never the key an answer echoes', async () => {
    const { m, key } = await loggedIn('api-binary');
    const bytes = Buffer.from([0, 1, 2, 255, 10, 200]);
    const audience = await backend.fake((request, response) => {
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'x-echo': String(request.headers['x-api-key']),
      });
      response.end(request.url === '/echo' ? Buffer.from(`you sent ${request.headers['x-api-key']}`) : bytes);
    });
    const env = { SEKUIRE_AUDIENCES: audience.url };
    const run = await m.run(['api', `${audience.url}/blob`], { env });
    expect(run.code).toBe(0);
    expect(run.stdoutBytes.equals(bytes)).toBe(true);
    const asJson = await m.run(['api', `${audience.url}/blob`, '--json'], { env });
    expect(asJson.json()).toMatchObject({ status: 200, body: null, body_base64: bytes.toString('base64') });
    const echo = await m.run(['api', '-i', `${audience.url}/echo`], { env });
    expect(echo.stdout).toBe(`you sent ${key.slice(0, 11)}...${key.slice(-3)}`);
    expect(echo.stderr).toContain(`x-echo: ${key.slice(0, 11)}...${key.slice(-3)}`);
    expect(`${echo.stdout}${echo.stderr}`).not.toContain(key.slice(8, 40));
  });

  it('never follows a redirect to another origin', async () => {
    const { m } = await loggedIn('api-redirect');
    const elsewhere = await backend.fake(json(200, {}));
    const audience = await backend.fake((_request, response) => {
      response.writeHead(307, { location: `${elsewhere.url}/taken` });
      response.end();
    });
    const run = await m.run(['api', `${audience.url}/start`], {
      env: { SEKUIRE_AUDIENCES: `${audience.url},${elsewhere.url}` },
    });
    expect(run.code).toBe(13);
    expect(run.stderr.split('\n')[0]).toBe(
      `The backend at ${audience.url} redirected to another origin (${elsewhere.url}).`,
    );
    expect(elsewhere.requests).toEqual([]);
  });

  it('refuses what it cannot send as asked (exit 2), before sending', async () => {
    const { m } = await loggedIn('api-usage');
    const audience = await backend.fake(json(200, {}));
    const env = { SEKUIRE_AUDIENCES: audience.url };
    const cases: [string[], string][] = [
      [['-H', 'X-API-Key: other'], 'The header X-API-Key is set by sekuire itself'],
      [['-H', 'no colon'], "-H takes 'Name: value'"],
      [['-f', '=v'], '-f takes key=value'],
      [['-F', 'f=@missing.txt'], 'Cannot read missing.txt: no such file.'],
      [['-X', 'GET POST'], '-X takes an HTTP method'],
      [['--input', '-', '-F', 'x=@-'], 'Standard input can be read once'],
    ];
    for (const [flags, message] of cases) {
      const run = await m.run(['api', `${audience.url}/x`, ...flags], { env });
      expect(run.code, flags.join(' ')).toBe(2);
      expect(run.stderr, flags.join(' ')).toContain(message);
    }
    expect(audience.requests).toEqual([]);
  });
});

describe('sekuire api and profiles', () => {
  it('--profile NAME uses that profile: its key, its backend, its device key; else SEKUIRE_PROFILE, the active one, default', async () => {
    // The profile work logs in to a second server: a request sent to the wrong backend is a 401 there.
    const other = await startServer();
    try {
      const m = backend.machine('api-profiles');
      const mine = await backend.server.createKey({ email: 'api-mine@example.com' });
      expect((await m.run(['login', '--with-key'], { input: mine.key })).code).toBe(0);
      const work = await other.createKey({ email: 'api-work@example.com' });
      const login = await m.run(['login', '--with-key', '--profile', 'work', '--backend', other.url], {
        input: work.key,
      });
      expect(login.code).toBe(0);

      const email = async (args: string[], env: Record<string, string> = {}) => {
        const run = await m.run(['api', ...args, '/api/v1/cli/whoami', '--json'], { env });
        expect(run.code, `${args.join(' ')} ${run.stderr}`).toBe(0);
        return run.json<{ body: { user: { email: string } } }>().body.user.email;
      };
      expect(await email([])).toBe('api-mine@example.com');
      expect(await email(['--profile', 'work'])).toBe('api-work@example.com');
      expect(await email(['--profile=work'])).toBe('api-work@example.com');
      expect(await email([], { SEKUIRE_PROFILE: 'work' })).toBe('api-work@example.com');
      // --profile wins over SEKUIRE_PROFILE, as for every command.
      expect(await email(['--profile', 'default'], { SEKUIRE_PROFILE: 'work' })).toBe('api-mine@example.com');
      expect((await m.run(['auth', 'switch', 'work'])).code).toBe(0);
      expect(await email([])).toBe('api-work@example.com');
      expect((await m.run(['auth', 'switch', 'default'])).code).toBe(0);

      // A full URL is allowed for the profile's own backend only.
      const refused = await m.run(['api', `${other.url}/api/v1/cli/whoami`]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`neither the backend of the key in use (${backend.server.url})`);
      const allowed = await m.run(['api', '--profile', 'work', `${other.url}/api/v1/cli/whoami`]);
      expect(allowed.code).toBe(0);

      // The profile's own device key signs: verified against profiles/work/device-key.json.
      const audience = await backend.fake(json(200, { ok: true }));
      const signed = await m.run(['api', '--profile', 'work', `${audience.url}/signed`], {
        env: { SEKUIRE_AUDIENCES: audience.url },
      });
      expect(signed.code).toBe(0);
      const request = audience.requests[0];
      if (request === undefined) throw new Error('no request arrived');
      expect(request.headers['x-api-key']).toBe(work.key);
      const workKey = join(m.home, 'profiles', 'work', 'device-key.json');
      expect((await proofVerdict(m, request, audience.url, request.body, workKey)).ok).toBe(true);
      expect((await proofVerdict(m, request, audience.url)).ok).toBe(false);

      // A profile without a login: exit 10 naming it; a name that is no name: exit 2.
      const none = await m.run(['api', '--profile', 'nobody', '/api/v1/cli/whoami']);
      expect(none.code).toBe(10);
      expect(none.stderr).toContain('Not logged in (profile nobody, from --profile)');
      expect(none.stderr).toContain('sekuire login --profile nobody');
      const bad = await m.run(['api', '--profile', 'No Such', '/api/v1/cli/whoami']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--profile is not a profile name');
    } finally {
      await other.stop();
    }
  });
});

describe("sekuire api's argv", () => {
  it('is read on the fast path as commander reads it; anything else is left to commander', () => {
    expect(
      apiArgs(['-XPUT', '-HAccept: text/csv', '--header=X-A: 1', '-f', 'a=1', '-F', 'b=2', '--', '-odd']),
    ).toEqual({
      method: 'PUT',
      target: '-odd',
      header: ['Accept: text/csv', 'X-A: 1'],
      rawField: ['a=1'],
      field: ['b=2'],
    });
    expect(
      apiArgs([
        '/x',
        '-i',
        '--silent',
        '--json',
        '--verbose',
        '--input',
        '-',
        '--backend',
        'http://127.0.0.1:1',
      ]),
    ).toEqual({
      target: '/x',
      include: true,
      silent: true,
      json: true,
      verbose: true,
      input: '-',
      backend: 'http://127.0.0.1:1',
      header: [],
      rawField: [],
      field: [],
    });
    // --profile as commander reads it: one, spelt either way; repeated or without a value, commander's.
    expect(apiArgs(['--profile', 'work', '/x'])).toMatchObject({ profile: 'work', target: '/x' });
    expect(apiArgs(['/x', '--profile=ops'])).toMatchObject({ profile: 'ops', target: '/x' });
    for (const args of [
      ['--help'],
      ['/x', '-h'],
      [],
      ['/x', '/y'],
      ['/x', '-X'],
      ['/x', '-iX', 'GET'],
      ['/x', '--bogus'],
      ['/x', '--profile', 'a', '--profile', 'b'],
      ['/x', '--profile'],
      ['/x', '--profiles', 'a'],
    ]) {
      expect(apiArgs(args), args.join(' ')).toBeUndefined();
    }
  });

  it('runs the same through commander when the fast path leaves the argv to it', async () => {
    const { m } = await loggedIn('api-commander');
    const fast = await m.run(['api', '-i', '-X', 'GET', '/api/v1/cli/status', '--silent']);
    const full = await m.run([
      'api',
      '-iX',
      'GET',
      '/api/v1/cli/status',
      '--silent',
      '-H',
      'X-A: 1',
      '-H',
      'X-B: 2',
    ]);
    expect([fast.code, full.code]).toEqual([0, 0]);
    expect(full.stderr.split('\n')[0]).toBe('HTTP 200 OK');
    expect(fast.stderr.split('\n')[0]).toBe('HTTP 200 OK');
    const help = await m.run(['api', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: sekuire api [options] <path-or-url>');
    expect(help.stdout).toContain('Exit codes:');
  });
});
