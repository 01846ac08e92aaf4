// login --web and login --device against the real server, approved (or not) by a person at the dashboard.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../packages/cli/src/cli/run.js';
import { useBackend } from '../helpers/backend.js';
import { type RunOptions, TestMachine } from '../helpers/context.js';
import { forEachEngine, type TestDatabase, testDatabase } from '../helpers/engines.js';
import { json } from '../helpers/fake-backend.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { WebSession } from '../helpers/web-session.js';

/** What an approval page's selects send untouched: the one default for a new key (test, 90 days). */
const PRESELECTED = { environment: 'test', expires: '90' };

const backend = useBackend();
/** Polls come quickly in tests; the server answers slow_down, which the CLI honours, but approval still wins. */
const quick: RunOptions = { context: { sleep: () => new Promise((resolve) => setTimeout(resolve, 20)) } };

/** Starts a command and hands back its streams while it runs. */
function start(machine: TestMachine, args: string[], options: RunOptions = {}) {
  const { ctx, stdout, stderr } = machine.context({ ...quick, ...options });
  const done = run(ctx, ['node', 'sekuire', ...args]);
  const waitFor = async (pattern: RegExp): Promise<RegExpExecArray> => {
    for (let i = 0; i < 500; i++) {
      const match = pattern.exec(stderr.text);
      if (match) return match;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`stderr never matched ${pattern}:\n${stderr.text}`);
  };
  return { done, stdout, stderr, waitFor };
}

async function person(email: string): Promise<WebSession> {
  await backend.server.createUser(email);
  return WebSession.signIn(backend.server.url, email);
}

describe('login --device', () => {
  it('shows the contract lines, waits for approval in the browser, and saves a new key bound here', async () => {
    const ada = await person('dev-ada@example.com');
    const machine = backend.machine('device-ok');
    const cli = start(machine, ['login', '--device']);
    const [, code] = await cli.waitFor(/2\. Enter the code: ([A-Z]{4}-[A-Z]{4})\n/);
    expect(cli.stderr.text).toBe(
      [
        'Sekuire Login (device code)',
        `1. Go to: ${backend.server.url}/device`,
        `2. Enter the code: ${code}`,
        'Waiting for approval (expires in 15 minutes)...',
        '',
      ].join('\n'),
    );
    const page = await ada.get(`/device?code=${code}`);
    expect(page.body).toContain('host-device-ok');
    const grant = /name="grant" value="(grant_\w+)"/.exec(page.body)?.[1] as string;
    expect(
      (await ada.post('/device', { grant, code: code as string, ...PRESELECTED, decision: 'authorize' }))
        .status,
    ).toBe(200);
    expect(await cli.done).toBe(0);
    expect(cli.stdout.text).toMatch(
      /^Login successful! API Key verified and bound to this device\.\nDevice: host-device-ok\n/,
    );
    const stored = JSON.parse(readFileSync(machine.authFile, 'utf8'));
    expect(stored.api_key).toMatch(/^sk_test_/);
    expect(stored.user_email).toBe('dev-ada@example.com');
    expect((await machine.run(['status'])).code).toBe(0);
    const keys = JSON.parse((await ada.get('/api/v1/keys')).body).keys;
    expect(keys[0]).toMatchObject({ name: 'CLI on host-device-ok', device: { name: 'host-device-ok' } });
  });

  it('denied in the browser: exit 14, nothing saved', async () => {
    const bob = await person('dev-bob@example.com');
    const machine = backend.machine('device-denied');
    const cli = start(machine, ['login', '--device', '--json']);
    const [, code] = await cli.waitFor(/Enter the code: ([A-Z]{4}-[A-Z]{4})/);
    const page = await bob.get(`/device?code=${code}`);
    const grant = /name="grant" value="(grant_\w+)"/.exec(page.body)?.[1] as string;
    await bob.post('/device', { grant, code: code as string, decision: 'deny' });
    expect(await cli.done).toBe(14);
    expect(JSON.parse(cli.stdout.text).error).toMatchObject({
      code: 'access_denied',
      message: 'The login was denied in the browser. Nothing was saved.',
    });
    expect(() => readFileSync(machine.authFile)).toThrow();
  });

  it('--timeout passed: exit 13 saying so (not "unreachable")', async () => {
    const machine = backend.machine('device-timeout');
    const result = await machine.run(['login', '--device', '--timeout', '0.5'], {
      context: { now: () => new Date(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) },
    });
    expect(result.code).toBe(13);
    expect(result.stderr).toContain('Nobody approved the login within 1 second (--timeout).\n');
  });

  it('the code expired: exit 13 saying so', async () => {
    const fake = await backend.fake((request, response) => {
      const body =
        request.url === '/api/v1/cli/device/code'
          ? {
              device_code: 'd'.repeat(43),
              user_code: 'BCDF-GHJK',
              verification_uri: 'x',
              expires_in: 900,
              interval: 1,
            }
          : { error: 'expired_token', message: 'expired' };
      json(request.url === '/api/v1/cli/device/code' ? 200 : 400, body)(request, response);
    });
    const machine = backend.machine('device-expired', { SEKUIRE_BACKEND_URL: fake.url });
    const result = await machine.run(['login', '--device'], quick);
    expect(result.code).toBe(13);
    expect(result.stderr).toContain('The code expired before it was approved. Nothing was saved.\n');
    // No key was ever sent: the device flow has none yet.
    expect(fake.requests.every((request) => request.headers['x-api-key'] === undefined)).toBe(true);
  });
});

describe('login --web', () => {
  it('--no-browser: prints the URL and the words, and finishes through the real callback', async () => {
    const ada = await person('web-ada@example.com');
    const machine = backend.machine('web-ok');
    const cli = start(machine, ['login', '--web', '--no-browser']);
    const [, url] = await cli.waitFor(/1\. Go to: (\S+)\n/);
    const [, words] = await cli.waitFor(/2\. Check that the page shows: ([A-Z]+-[A-Z]+)\n/);
    expect(url).toMatch(
      new RegExp(
        `^${backend.server.url}/cli/authorize\\?redirect_uri=http%3A%2F%2F127\\.0\\.0\\.1%3A\\d+%2Fcallback%2F`,
      ),
    );
    const page = await ada.get((url as string).slice(backend.server.url.length));
    expect(page.status).toBe(200);
    expect(page.body).toContain(words);
    const params = Object.fromEntries(new URL(url as string).searchParams);
    // The page shows the OS as the device-code page does: name, version, architecture.
    expect(params.device_arch).toBe(process.arch);
    expect(params.device_os_version).not.toBe('');
    expect(page.body).toContain(
      `<dt>OS</dt><dd>${params.device_os} · ${params.device_os_version} · ${params.device_arch}</dd>`,
    );
    const approved = await ada.post('/cli/authorize', { ...params, ...PRESELECTED, decision: 'authorize' });
    expect(approved.status).toBe(303);
    const callback = await ada.get(approved.location as string);
    expect(callback.status).toBe(200);
    expect(callback.body).toContain('You can close this tab');
    expect(await cli.done).toBe(0);
    expect(cli.stderr.text).toContain('Approved in the browser.\n');
    expect((await machine.run(['status'])).code).toBe(0);
    // The key went from the server to the CLI directly: never through a URL the browser saw.
    const key = JSON.parse(readFileSync(machine.authFile, 'utf8')).api_key as string;
    expect(approved.location).not.toContain(key.slice(8));
    expect(url).not.toContain(key.slice(8));
  });

  it('a forged callback with another state is refused and ignored; the real one still completes', async () => {
    const ada = await person('web-forged@example.com');
    const machine = backend.machine('web-forged');
    const cli = start(machine, ['login', '--web', '--no-browser']);
    const [, url] = await cli.waitFor(/1\. Go to: (\S+)\n/);
    const params = Object.fromEntries(new URL(url as string).searchParams);
    const forged = await fetch(`${params.redirect_uri}?code=attacker-code&state=not-the-state`);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('does not match');
    await ada.get((url as string).slice(backend.server.url.length));
    const approved = await ada.post('/cli/authorize', { ...params, ...PRESELECTED, decision: 'authorize' });
    await ada.get(approved.location as string);
    expect(await cli.done).toBe(0);
    // Exactly one callback is accepted.
    const late = await fetch(`${params.redirect_uri}?code=x&state=${params.state}`).catch(() => undefined);
    expect(late === undefined || late.status === 410).toBe(true);
  });

  it('Deny in the browser: exit 14', async () => {
    const ada = await person('web-deny@example.com');
    const machine = backend.machine('web-deny');
    const cli = start(machine, ['login', '--web', '--no-browser']);
    const [, url] = await cli.waitFor(/1\. Go to: (\S+)\n/);
    const params = Object.fromEntries(new URL(url as string).searchParams);
    await ada.get((url as string).slice(backend.server.url.length));
    const denied = await ada.post('/cli/authorize', { ...params, decision: 'deny' });
    expect(new URL(denied.location as string).searchParams.get('error')).toBe('access_denied');
    await ada.get(denied.location as string);
    expect(await cli.done).toBe(14);
    expect(cli.stderr.text).toContain('The login was denied in the browser. Nothing was saved.');
  });

  it('opens the browser named by BROWSER, with the URL', async () => {
    const machine = backend.machine('web-browser');
    const seen = join(machine.dir, 'opened.txt');
    const script = join(machine.dir, 'browser.sh');
    writeFileSync(script, `#!/bin/sh\nprintf '%s' "$1" > '${seen}'\n`);
    chmodSync(script, 0o755);
    const cli = start(machine, ['login', '--web', '--timeout', '2'], {
      env: { BROWSER: script },
      context: { now: () => new Date() },
    });
    const [, url] = await cli.waitFor(/1\. Go to: (\S+)\n/);
    expect(await cli.done).toBe(13);
    expect(readFileSync(seen, 'utf8')).toBe(url);
    expect(cli.stderr.text).toContain('Nobody approved the login within 2 seconds (--timeout).');
  });

  it.each([
    [
      { SSH_CONNECTION: '10.0.0.1 50000 10.0.0.2 22', DISPLAY: undefined },
      'an SSH session without a display',
    ],
    [
      { DISPLAY: undefined, WAYLAND_DISPLAY: undefined },
      'no display (neither DISPLAY nor WAYLAND_DISPLAY is set)',
    ],
  ])('where no browser can open (%j) it says why and uses a device code', async (env, why) => {
    const machine = backend.machine('web-fallback');
    const cli = start(machine, ['login', '--web', '--timeout', '0.2'], {
      env,
      context: { now: () => new Date() },
    });
    await cli.waitFor(/Enter the code: /);
    expect(await cli.done).toBe(13);
    expect(cli.stderr.text).toMatch(
      new RegExp(
        `^No browser can be opened here \\(${why.replace(/[()]/g, '\\$&')}\\): using a device code instead\\.\\nSekuire Login \\(device code\\)\\n`,
      ),
    );
  });

  it('the listener is closed when the login ends, and it listened on 127.0.0.1 only', async () => {
    const machine = backend.machine('web-closed');
    const cli = start(machine, ['login', '--web', '--no-browser', '--timeout', '0.3'], {
      context: { now: () => new Date() },
    });
    const [, url] = await cli.waitFor(/1\. Go to: (\S+)\n/);
    const port = Number(new URL(new URL(url as string).searchParams.get('redirect_uri') as string).port);
    expect(await cli.done).toBe(13);
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('flags', () => {
  it.each([
    [['--web', '--device'], '--web and --device are two ways to log in; give one.'],
    [['--web', '--with-key'], '--web brings a new key for this device: --with-key does not apply to it.'],
    [['--device', '--rebind'], '--device brings a new key for this device: --rebind does not apply to it.'],
    [['--device', '--port', '4000'], '--port applies to --web only.'],
    [['--timeout', '0'], '--timeout must be a number of seconds above 0 and at most 3600'],
    [['--web', '--port', '70000'], '--port must be a port number from 1 to 65535, not "70000".'],
    [['--web', '--timeout', 'soon'], '--timeout must be a number of seconds above 0 and at most 3600'],
  ])('%j -> exit 2 before anything is asked', async (args, message) => {
    const machine = backend.machine('flags');
    const result = await machine.run(['login', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toContain('Sekuire Login');
  });

  it('--port in use: exit 2 naming the port', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await backend
        .machine('port-busy')
        .run(['login', '--web', '--no-browser', '--port', String(port)]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use.`);
    } finally {
      blocker.close();
    }
  });
});

forEachEngine((engine) => {
  describe('the approver chooses the new key', () => {
    let server: TestServer;
    let database: TestDatabase;
    const dir = mkdtempSync(join(tmpdir(), 'sekuire-approve-'));
    const machines: TestMachine[] = [];
    beforeAll(async () => {
      database = await testDatabase(engine, dir);
      server = await startServer({ database: database.target });
    });
    afterAll(async () => {
      await server?.stop();
      await database?.drop();
      for (const machine of machines) machine.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });
    const machine = (name: string) => {
      const made = new TestMachine(name, { SEKUIRE_BACKEND_URL: server.url });
      machines.push(made);
      return made;
    };
    const signedIn = async (email: string) => {
      await server.createUser(email);
      return WebSession.signIn(server.url, email);
    };
    /** What status --json says of the saved key, and the key's creation time as the dashboard lists it. */
    const keyFacts = async (cli: TestMachine, person: WebSession) => {
      const status = await cli.run(['status', '--json']);
      expect(status.code).toBe(0);
      const data = status.json<{ key: { environment: string; id: string }; expires_at: string | null }>();
      const listed = JSON.parse((await person.get('/api/v1/keys')).body).keys as {
        id: string;
        created_at: string;
      }[];
      const created = listed.find((key) => key.id === data.key.id)?.created_at as string;
      return {
        environment: data.key.environment,
        lifetimeDays:
          data.expires_at === null ? null : (Date.parse(data.expires_at) - Date.parse(created)) / 86_400_000,
      };
    };

    it('login --web approved with live and 30 days: the key the CLI gets is live and expires 30 days after it was made', async () => {
      const ada = await signedIn('choose-web@example.com');
      const cli = machine('choose-web');
      const login = start(cli, ['login', '--web', '--no-browser', '--json']);
      const [, url] = await login.waitFor(/1\. Go to: (\S+)\n/);
      const params = Object.fromEntries(new URL(url as string).searchParams);
      // The CLI asks for no environment or lifetime: the choice is the approver's alone.
      expect(Object.keys(params).sort()).toEqual(
        [
          'code_challenge',
          'code_challenge_method',
          'confirm',
          'device_arch',
          'device_name',
          'device_os',
          'device_os_version',
          'fingerprint',
          'redirect_uri',
          'state',
        ].sort(),
      );
      expect((await ada.get((url as string).slice(server.url.length))).status).toBe(200);
      const approved = await ada.post('/cli/authorize', {
        ...params,
        environment: 'live',
        expires: '30',
        decision: 'authorize',
      });
      expect(approved.status).toBe(303);
      await ada.get(approved.location as string);
      expect(await login.done).toBe(0);
      const result = JSON.parse(login.stdout.text);
      expect(result.key.environment).toBe('live');
      expect(result.key.masked).toMatch(/^sk_live_/);
      expect(await keyFacts(cli, ada)).toEqual({ environment: 'live', lifetimeDays: 30 });
      // The login's own answer says when it ends, as status does.
      expect(result.expires_at).toBe(
        (await cli.run(['status', '--json'])).json<{ expires_at: string }>().expires_at,
      );
    });

    it('login --device approved as the page preselects: the one default, test and 90 days', async () => {
      const bob = await signedIn('choose-device@example.com');
      const cli = machine('choose-device');
      const login = start(cli, ['login', '--device']);
      const [, code] = await login.waitFor(/Enter the code: ([A-Z]{4}-[A-Z]{4})/);
      const page = await bob.get(`/device?code=${code}`);
      const grant = /name="grant" value="(grant_\w+)"/.exec(page.body)?.[1] as string;
      const approved = await bob.post('/device', {
        grant,
        code: code as string,
        ...PRESELECTED,
        decision: 'authorize',
      });
      expect(approved.status).toBe(200);
      expect(await login.done).toBe(0);
      expect(await keyFacts(cli, bob)).toEqual({ environment: 'test', lifetimeDays: 90 });
    });

    it('login --device: a value the page never offers is refused and nothing is approved; the CLI keeps waiting', async () => {
      const eve = await signedIn('choose-refused@example.com');
      const cli = machine('choose-refused');
      const login = start(cli, ['login', '--device', '--timeout', '30']);
      const [, code] = await login.waitFor(/Enter the code: ([A-Z]{4}-[A-Z]{4})/);
      const page = await eve.get(`/device?code=${code}`);
      const grant = /name="grant" value="(grant_\w+)"/.exec(page.body)?.[1] as string;
      const refused = await eve.post('/device', {
        grant,
        code: code as string,
        environment: 'staging',
        expires: '90',
        decision: 'authorize',
      });
      expect(refused.status).toBe(400);
      expect(refused.body).toContain('Choose the environment from the list: test or live.');
      expect(JSON.parse((await eve.get('/api/v1/keys')).body).keys).toEqual([]);
      // Still undecided: the same code is approved from the page the person was left on.
      const approved = await eve.post('/device', {
        grant,
        code: code as string,
        environment: 'live',
        expires: '365',
        decision: 'authorize',
      });
      expect(approved.status).toBe(200);
      expect(await login.done).toBe(0);
      expect(await keyFacts(cli, eve)).toEqual({ environment: 'live', lifetimeDays: 365 });
    });
  });
});
