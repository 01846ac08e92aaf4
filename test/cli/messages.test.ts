// What reaches the terminal from a backend (stripped, capped, key masked), and messages a user could misread.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mintKey } from '@sekuire/shared/key';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { json } from '../helpers/fake-backend.js';

const backend = useBackend({ SEKUIRE_RETRIES: '0' });
const machine = (name: string, env: Record<string, string> = {}, machineId?: string | null): TestMachine =>
  backend.machine(name, env, machineId);

describe('text from the backend', () => {
  const key = mintKey('live');
  const secret = key.value.slice(8, 40);

  it('a 900 KB device name in a 409 is capped, and bidi and zero-width characters never reach the terminal', async () => {
    const name = `laptop\u202Egnp.exe\u200B${'x'.repeat(900_000)}`;
    const fake = await backend.fake(
      json(409, { error: 'device_mismatch', bound_device: { name, os: 'linux', bound_at: '2026-01-01' } }),
    );
    const run = await machine('huge', { SEKUIRE_BACKEND_URL: fake.url }).run(['login', '--with-key'], {
      input: key.value,
    });
    expect(run.code).toBe(12);
    expect(run.stderr.length).toBeLessThan(1000);
    expect(run.stderr).toContain(
      `This key is bound to another device: laptopgnp.exe${'x'.repeat(186)}… (linux)`,
    );
    expect(run.stderr).not.toMatch(/[\u202A-\u202E\u2066-\u2069\u200B-\u200F]/);
  });

  it("masks the key's random part wherever the backend echoes it, prefix or not", async () => {
    const fake = await backend.fake(json(403, { error: 'forbidden', message: `no access for ${secret}` }));
    const run = await machine('echo', { SEKUIRE_API_KEY: key.value, SEKUIRE_BACKEND_URL: fake.url }).run([
      'status',
    ]);
    expect(run.code).toBe(14);
    expect(run.stderr).toBe(
      'The key is not allowed to do this. The backend said: "no access for [redacted]"\n',
    );
  });

  it('masks it in a name too (an organization named after the key)', async () => {
    const fake = await backend.fake(
      json(200, {
        user: { id: 'user_1', email: 'dev@example.com', name: 'Dev' },
        organization: { id: 'org_1', name: secret },
        workspace: { id: 'ws_1', name: 'Main' },
        device: null,
      }),
    );
    const run = await machine('org', { SEKUIRE_API_KEY: key.value, SEKUIRE_BACKEND_URL: fake.url }).run([
      'auth',
      'whoami',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Organization: [redacted]\n');
    expect(run.stdout + run.stderr).not.toContain(secret);
  });
});

describe('messages a user could misread', () => {
  it('https:// to a plain-http server: it does not speak TLS; try http://', async () => {
    const port = new URL(backend.server.url).port;
    const m = machine('not-tls', { SEKUIRE_API_KEY: mintKey('test').value });
    const run = await m.run(['status', '--backend', `https://127.0.0.1:${port}`]);
    expect(run.code).toBe(13);
    expect(run.stderr).toBe(
      `The Sekuire backend at https://127.0.0.1:${port} does not speak TLS: it answered https:// in plain text.\nIf it is a plain-http server on this machine, use http://127.0.0.1:${port}\n`,
    );
  });

  it('--backend ending in /api/v1: drop the path (exit 2, before any connection)', async () => {
    const run = await machine('api-path').run(
      ['login', '--with-key', '--backend', `${backend.server.url}/api/v1/`],
      {
        input: mintKey('test').value,
      },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `The backend URL from --backend ends with /api/v1, which sekuire adds itself; give the server's base URL: ${backend.server.url}\n`,
    );
  });

  it('another path that is not the API: the hint says to drop it, naming where the URL came from', async () => {
    const m = machine('path', {
      SEKUIRE_API_KEY: mintKey('test').value,
      SEKUIRE_BACKEND_URL: `${backend.server.url}/sekuire`,
    });
    const run = await m.run(['status']);
    expect(run.code).toBe(13);
    expect(run.stderr).toContain(
      `The backend URL has a path (/sekuire), and sekuire adds /api/v1/... itself: try ${backend.server.url} (from SEKUIRE_BACKEND_URL)\n`,
    );
  });

  it('the "not the API" hint names the source of a stored login, not a flag the command lacks', async () => {
    const portal = await backend.fake((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html>portal</html>');
    });
    const { key } = await backend.server.createKey();
    const m = machine('portal');
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const stored = JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, string>;
    writeFileSync(m.authFile, JSON.stringify({ ...stored, backend: portal.url }), { mode: 0o600 });
    const run = await m.run(['auth', 'token']);
    expect(run.code).toBe(0);
    const test = await m.run(['auth', 'test'], { env: { SEKUIRE_BACKEND_URL: undefined } });
    expect(test.code).toBe(13);
    expect(test.stderr).toContain(`(from the login stored in ${m.authFile}); a captive portal or proxy`);
    expect(test.stderr).not.toContain('--backend');
  });

  it('Device: is never blank', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('blank-device');
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const stored = JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, string>;
    writeFileSync(m.authFile, JSON.stringify({ ...stored, device_name: ' \u200B ' }), { mode: 0o600 });
    const run = await m.run(['status', '--offline']);
    expect(run.lines()[4]).toBe('Device: host-blank-device');
  });

  it.each([
    ['auth', 'token'],
    ['logout'],
    ['login'],
    ['status'],
    ['auth', 'test'],
    ['config'],
    ['completion'],
  ])('%s --help lists exit 2 (a bad flag is always possible)', async (...words) => {
    const run = await machine('help').run([...words, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ +2 {2}usage: bad flag, setting or key, no terminal to prompt on$/m);
  });
});

describe('auth test writes nothing', () => {
  it('on a machine without a machine ID: no SEKUIRE_HOME, no device-id', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('no-writes', {}, null);
    const run = await m.run(['auth', 'test', '--with-key'], { input: key });
    expect(run.code).toBe(0);
    expect(existsSync(m.home)).toBe(false);
    const env = await m.run(['auth', 'test'], { env: { SEKUIRE_API_KEY: key } });
    expect(env.code).toBe(0);
    expect((await m.run(['status'], { env: { SEKUIRE_API_KEY: key } })).code).toBe(0);
    expect(existsSync(m.home)).toBe(false);
  });

  it('login is what creates device-id, once', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('creates', {}, null);
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const id = readFileSync(`${m.home}/device-id`, 'utf8');
    expect((await m.run(['status'])).code).toBe(0);
    expect(readFileSync(`${m.home}/device-id`, 'utf8')).toBe(id);
  });
});

describe('a failed write to stdout', () => {
  it('is exit 1 with a message on stderr, even when the command itself succeeded', async () => {
    const m = machine('full', { SEKUIRE_API_KEY: mintKey('test').value });
    const error = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const run = await m.run(['auth', 'token'], { stdoutError: error });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'Cannot write the output to standard output: no space left on the device (ENOSPC). The command itself completed.\nCheck where standard output goes (a full disk, a closed file)\n',
    );
    const json = await m.run(['status', '--offline', '--json'], { stdoutError: error });
    expect(json.code).toBe(1);
  });

  it('a closed pipe (the reader had enough) stays quiet', async () => {
    const m = machine('pipe', { SEKUIRE_API_KEY: mintKey('test').value });
    const error = Object.assign(new Error('EPIPE'), { code: 'EPIPE' });
    const run = await m.run(['auth', 'token'], { stdoutError: error });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('an error that could not be written as JSON keeps its own exit code', async () => {
    const m = machine('full-error');
    mkdirSync(m.home, { recursive: true });
    const error = Object.assign(new Error('EIO'), { code: 'EIO' });
    const run = await m.run(['status', '--json'], { stdoutError: error });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Cannot write the output to standard output: EIO.');
  });
});
