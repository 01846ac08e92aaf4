// Every exit code of CLI.md, each reached in process through a real path: the reference server or a misbehaving one.
import { mkdirSync, writeFileSync } from 'node:fs';
import { mintKey } from '@sekuire/shared/key';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { type FakeBackend, type Handler, json, silent } from '../helpers/fake-backend.js';

const backend = useBackend({ SEKUIRE_RETRIES: '1' });
const machine = (id = 'exit-codes', env: Record<string, string> = {}): TestMachine =>
  backend.machine(id, env);
const fake = (handler: Handler): Promise<FakeBackend> => backend.fake(handler);

/** A machine whose key (from SEKUIRE_API_KEY) goes to a misbehaving backend. */
async function againstFake(handler: Handler, env: Record<string, string> = {}) {
  const backend = await fake(handler);
  const key = mintKey('live').value;
  const m = machine('fake', { SEKUIRE_API_KEY: key, SEKUIRE_BACKEND_URL: backend.url, ...env });
  return { backend, key, m };
}

async function loggedIn(id = 'exit-codes'): Promise<TestMachine> {
  const { key } = await backend.server.createKey();
  const m = machine(id);
  const login = await m.run(['login', '--with-key'], { input: key });
  expect(login.code).toBe(0);
  return m;
}

describe('exit codes', () => {
  it('0: authenticated, on this device, accepted', async () => {
    const m = await loggedIn();
    expect((await m.run(['status'])).code).toBe(0);
  });

  it('1: the backend calls our request malformed (a bug or a version mismatch)', async () => {
    const { m } = await againstFake(json(400, { error: 'invalid_request', message: 'bad header' }));
    const run = await m.run(['status', '--json']);
    expect(run.code).toBe(1);
    expect(run.json()).toMatchObject({ error: { code: 'invalid_request' } });
  });

  it.each([
    ['an unknown flag', ['status', '--bogus'], {}, /unknown option '--bogus'/i],
    ['an unknown command', ['stauts'], {}, /unknown command 'stauts'/i],
    [
      'a malformed SEKUIRE_API_KEY',
      ['status'],
      { SEKUIRE_API_KEY: 'sk_live_short' },
      /SEKUIRE_API_KEY is not a valid API key/,
    ],
    [
      'plain http to a remote host',
      ['auth', 'test', '--url', 'http://example.com'],
      { SEKUIRE_API_KEY: mintKey('live').value },
      /plain http/,
    ],
    [
      'a bad SEKUIRE_TIMEOUT',
      ['status'],
      { SEKUIRE_API_KEY: mintKey('live').value, SEKUIRE_TIMEOUT: 'soon' },
      /SEKUIRE_TIMEOUT/,
    ],
    ['an unknown shell', ['completion', 'tcsh'], {}, /Unknown shell "tcsh"/],
  ])('2: %s', async (_name, args, env, pattern) => {
    const run = await machine('usage', env as Record<string, string>).run(args as string[]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(pattern as RegExp);
  });

  it('2: no command prints help to stderr', async () => {
    const run = await machine().run([]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('Usage: sekuire');
  });

  it('2 with --json: the error is a JSON object on stdout', async () => {
    const run = await machine().run(['status', '--bogus', '--json']);
    expect(run.code).toBe(2);
    expect(run.json()).toMatchObject({ error: { code: 'usage' } });
  });

  it('10: not logged in', async () => {
    const run = await machine().run(['status', '--json']);
    expect(run.code).toBe(10);
    expect(run.json()).toEqual({
      error: { code: 'not_logged_in', message: 'Not logged in', hint: "Run 'sekuire login' to authenticate" },
    });
  });

  it('11: a key the backend does not know', async () => {
    const run = await machine('unknown', { SEKUIRE_API_KEY: mintKey('test').value }).run(['status']);
    expect(run.code).toBe(11);
  });

  it('12: credentials from another device', async () => {
    const a = await loggedIn('device-a');
    const b = machine('device-b');
    mkdirSync(b.home, { recursive: true, mode: 0o700 });
    writeFileSync(b.authFile, (await import('node:fs')).readFileSync(a.authFile), { mode: 0o600 });
    expect((await b.run(['status'])).code).toBe(12);
  });

  it.each([
    ['503 after retries', json(503, { error: 'unavailable' }), /failed \(HTTP 503\) after 2 attempts/],
    [
      'an HTML captive portal',
      htmlPortal(),
      /did not answer as the Sekuire API \(HTTP 200, text\/html: not JSON\)/,
    ],
    [
      'JSON without the fields',
      json(200, { hello: 'world' }),
      /HTTP 200, application\/json: key is not an object/,
    ],
    [
      '429 with a Retry-After longer than we wait',
      json(429, { error: 'rate_limited', message: 'slow down' }, { 'retry-after': '60' }),
      /is limiting requests from this address; retry in 60 s/,
    ],
    ['a silent backend', silent, /No answer from the Sekuire backend at .* within 1 s \(the total deadline/],
  ])('13: %s', async (_name, handler, pattern) => {
    const { m } = await againstFake(handler, { SEKUIRE_TIMEOUT: '1' });
    const started = Date.now();
    const run = await m.run(['status']);
    expect(run.code).toBe(13);
    expect(run.stderr).toMatch(pattern);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('13: a redirect to another origin is not followed, and the other origin never sees the key', async () => {
    const recorder = await fake(json(200, {}));
    const { m, backend } = await againstFake((_request, response) => {
      response.writeHead(302, { location: `${recorder.url}/api/v1/cli/status` });
      response.end();
    });
    const run = await m.run(['status']);
    expect(run.code).toBe(13);
    expect(run.stderr).toContain(
      `The backend at ${backend.url} redirected to another origin (${recorder.url}).`,
    );
    expect(recorder.requests).toEqual([]);
  });

  it('13: a backend that is down', async () => {
    const { m, backend } = await againstFake(silent);
    await backend.close();
    const run = await m.run(['status']);
    expect(run.code).toBe(13);
    expect(run.stderr).toContain('connection refused');
  });

  it('14: 402 plan_limit_exceeded shows upgrade_url', async () => {
    const { m } = await againstFake(
      json(402, {
        error: 'plan_limit_exceeded',
        message: 'Device limit reached',
        upgrade_url: 'https://sekuire.ai/upgrade',
      }),
    );
    const run = await m.run(['status']);
    expect(run.code).toBe(14);
    expect(run.stderr).toContain('https://sekuire.ai/upgrade');
    const asJson = await m.run(['status', '--json']);
    expect(asJson.json()).toMatchObject({
      error: { code: 'plan_limit_exceeded', upgrade_url: 'https://sekuire.ai/upgrade' },
    });
  });

  it('14: 403 forbidden', async () => {
    const { m } = await againstFake(json(403, { error: 'forbidden', message: 'Key lacks cli scope' }));
    const run = await m.run(['status']);
    expect(run.code).toBe(14);
    expect(run.stderr).toContain('Key lacks cli scope');
  });

  it('15: an auth.json that is not JSON', async () => {
    const m = machine();
    mkdirSync(m.home, { recursive: true, mode: 0o700 });
    writeFileSync(m.authFile, 'not json', { mode: 0o600 });
    const run = await m.run(['status']);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(m.authFile);
  });
});

function htmlPortal(): Handler {
  return (_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<html><body>Sign in to the hotel Wi-Fi</body></html>');
  };
}
