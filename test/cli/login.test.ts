// login as a new user and an attacker meet it: the save location checked first, settings before the prompt,
// device facts the backend accepts, a terminal key read without echo, and logging in again.
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Context, InStream } from '../../packages/cli/src/cli/context.js';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { MoveApprover, quickSleep } from '../helpers/moves.js';

const backend = useBackend();
const machine = (name: string, env: Record<string, string> = {}): TestMachine => backend.machine(name, env);

async function loggedIn(name: string, key: string): Promise<TestMachine> {
  const m = machine(name);
  const run = await m.run(['login', '--with-key'], { input: key });
  expect(run.code, run.stderr).toBe(0);
  return m;
}

async function events(keyId: string): Promise<string[]> {
  return ((await backend.server.audit(keyId)) as { event: string }[]).map((entry) => entry.event);
}

describe('login checks where it will save before the backend changes anything', () => {
  it('auth.json is a directory on device B: --rebind exits 15 at once and A keeps the binding', async () => {
    const { key, id } = await backend.server.createKey();
    const a = await loggedIn('device-a', key);
    const b = machine('device-b');
    mkdirSync(b.authFile, { recursive: true });
    const run = await b.run(['login', '--with-key', '--rebind'], { input: key });
    expect(run.code).toBe(15);
    expect(run.stderr).toBe(
      `${b.authFile} is a directory, where Sekuire keeps a file.\nMove it away, then run 'sekuire login'\n`,
    );
    expect((await a.run(['status'])).code).toBe(0);
    expect(await events(id)).toEqual(['create', 'bind']);
  });

  it('a symlinked SEKUIRE_HOME: exit 15 before the key is even read, nothing moves', async () => {
    const { key, id } = await backend.server.createKey();
    const a = await loggedIn('device-a2', key);
    const b = machine('device-b2');
    const real = join(b.dir, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, b.home);
    const run = await b.run(['login', '--with-key', '--rebind', '--json'], { input: key });
    expect(run.code).toBe(15);
    expect(run.json()).toMatchObject({ error: { code: 'credentials_symlink', path: b.home } });
    expect(readdirSync(real)).toEqual([]);
    expect((await a.run(['status'])).code).toBe(0);
    expect(await events(id)).toEqual(['create', 'bind']);
  });

  it('when saving still fails after the binding moved, it says so and how to recover', async () => {
    await backend.server.createUser('saver@example.com');
    const { key, id } = await backend.server.createKey({ email: 'saver@example.com' });
    await loggedIn('device-a3', key);
    const b = machine('device-b3');
    // Something takes the file's place between the last check and the write.
    const sabotage = (ctx: Context): Partial<Context> => ({
      connect: async (options) => {
        const client = await ctx.connect(options);
        const login = client.login.bind(client);
        client.login = async (...args) => {
          const answer = await login(...args);
          mkdirSync(b.authFile, { recursive: true });
          return answer;
        };
        return client;
      },
    });
    const { ctx } = b.context();
    const running = b.run(['login', '--with-key', '--rebind'], {
      input: key,
      context: { ...sabotage(ctx), sleep: quickSleep },
    });
    const owner = await MoveApprover.signIn(backend.server.url, 'saver@example.com');
    expect((await owner.decide((await owner.waitFor(id)).id, 'approve')).status).toBe(200);
    const run = await running;
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(
      'The backend accepted the key and bound it to this device, moving the binding from host-device-a3 (linux), which has lost access; but the credentials could not be saved:',
    );
    expect(run.stderr).toContain(
      "Move it away, then run 'sekuire login' here again: the key is already bound to this device. To give the binding back instead, run 'sekuire login --rebind' on host-device-a3 (linux)\n",
    );
  });
});

describe('settings are checked before the prompt', () => {
  const terminal = { tty: { stdin: true, stderr: true } } as const;
  it.each([
    [{ SEKUIRE_TIMEOUT: 'soon' }, 'SEKUIRE_TIMEOUT must be a number of seconds above 0 and at most 3600'],
    [{ SEKUIRE_RETRIES: 'many' }, 'SEKUIRE_RETRIES must be a whole number from 0 to 10'],
    [
      { HTTPS_PROXY: 'https://proxy.example:3128', SEKUIRE_BACKEND_URL: 'https://api.example.com' },
      'HTTPS_PROXY names an https:// proxy',
    ],
    [{ SEKUIRE_WEB_URL: 'ftp://example.com' }, 'The web URL from SEKUIRE_WEB_URL must be an http(s) URL'],
    [
      { SEKUIRE_BACKEND_URL: 'http://example.com' },
      'Refusing to send an API key over plain http to example.com',
    ],
  ])('%j: exit 2, and no prompt was shown', async (env, message) => {
    const run = await machine('settings', env).run(['login'], terminal);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toContain('Sekuire Login');
    expect(run.stderr).not.toContain('API Key');
  });
});

describe('device facts are sent as the backend accepts them', () => {
  it.each([
    ['a control character in the hostname', { hostname: () => 'build\u0007box' }, 'build box'],
    ['a hostname of spaces', { hostname: () => '   ' }, 'unknown'],
    ['a 250-character PRETTY_NAME', { osVersion: async () => `Linux ${'x'.repeat(244)}` }, 'host-facts'],
  ])('%s: the login succeeds (it was exit 1, "bug")', async (_what, context, shown) => {
    const { key } = await backend.server.createKey();
    const m = machine('facts');
    const run = await m.run(['login', '--with-key'], { input: key, context });
    expect(run.code, run.stderr).toBe(0);
    expect(run.lines()[1]).toBe(`Device: ${shown}`);
    expect(JSON.parse(readFileSync(m.authFile, 'utf8')).device_name).toBe(shown);
  });
});

describe('--with-key with a terminal on stdin', () => {
  it('reads the line with echo off and says so on stderr', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('tty-with-key');
    const modes: boolean[] = [];
    const stdin = new PassThrough() as PassThrough & InStream & { isTTY: boolean };
    stdin.isTTY = true;
    stdin.setRawMode = (mode: boolean) => {
      modes.push(mode);
      return stdin;
    };
    setTimeout(() => stdin.write(`${key}\r`), 10);
    const run = await m.run(['login', '--with-key'], { context: { stdin } });
    expect(run.code, run.stderr).toBe(0);
    expect(modes).toEqual([true, false]);
    expect(run.stderr).toContain('Reading the API key from the terminal (input hidden)');
    expect(run.stderr + run.stdout).not.toContain(key);
  });
});

describe('logging in again', () => {
  it('with the same key: says who was logged in, and that the login was refreshed', async () => {
    const { key } = await backend.server.createKey({ email: 'same@example.com', org: 'Acme' });
    const m = await loggedIn('again', key);
    const run = await m.run(['login', '--with-key'], { input: key });
    expect(run.code).toBe(0);
    const masked = `${key.slice(0, 11)}...${key.slice(-3)}`;
    expect(run.stderr).toContain(
      `Logged in as same@example.com (Acme) with ${masked} on ${backend.server.url}; this login replaces it.`,
    );
    expect(run.lines().at(-1)).toBe(
      `Replaced: the earlier login with the same key, as same@example.com (${masked})`,
    );
  });

  it('with another key: unbinds the replaced key from this device', async () => {
    const first = await backend.server.createKey({ email: 'first@example.com' });
    const second = await backend.server.createKey({ email: 'second@example.com' });
    const m = await loggedIn('switch', first.key);
    const run = await m.run(['login', '--with-key', '--json'], { input: second.key });
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({
      user: { email: 'second@example.com' },
      previous: {
        user_email: 'first@example.com',
        key_masked: `${first.key.slice(0, 11)}...${first.key.slice(-3)}`,
        same_key: false,
        unbound: true,
        unbind_error: null,
      },
    });
    expect(await events(first.id)).toEqual(['create', 'bind', 'unbind']);
    // The first key can now be bound by whoever holds it, with no --rebind.
    const other = machine('next-owner');
    expect((await other.run(['login', '--with-key'], { input: first.key })).code).toBe(0);
  });
});

describe('a key pasted with what surrounded it', () => {
  it.each([
    ['SEKUIRE_API_KEY=<key>', 'remove "SEKUIRE_API_KEY=" (and any quotes) in front of it'],
    ['export SEKUIRE_API_KEY="<key>"', 'remove "SEKUIRE_API_KEY=" (and any quotes) in front of it'],
    ['"<key>"', 'Remove the quotes around the key'],
  ])('%s: exit 2 saying what to remove, the key never echoed', async (pattern, message) => {
    const { key } = await backend.server.createKey();
    const m = machine('pasted');
    const run = await m.run(['login', '--with-key'], { input: pattern.replace('<key>', key) });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toContain(key.slice(8, 20));
  });
});
