// Profiles: several logins in one home, each with its own device key; which one a command uses, and that it says so.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';

const backend = useBackend();

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

async function loginAs(
  m: TestMachine,
  email: string,
  args: readonly string[] = [],
): Promise<{ key: string; id: string }> {
  const created = await backend.server.createKey({ email, org: `Org of ${email}` });
  const run = await m.run(['login', '--with-key', ...args], { input: created.key });
  expect(run.stderr).not.toContain('Error');
  expect(run.code).toBe(0);
  return created;
}

function masked(key: string): string {
  return `${key.slice(0, 11)}...${key.slice(-3)}`;
}

describe('profiles', () => {
  it('login --profile adds a profile with its own 0600 files and device key; default stays where it was', async () => {
    const m = backend.machine('two-accounts');
    await loginAs(m, 'me@example.com');
    const defaultBefore = readFileSync(m.authFile, 'utf8');
    const defaultKey = readFileSync(join(m.home, 'device-key.json'), 'utf8');

    const work = await backend.server.createKey({ email: 'work@example.com' });
    const login = await m.run(['login', '--with-key', '--profile', 'work'], { input: work.key });
    expect(login.code).toBe(0);
    const dir = join(m.home, 'profiles', 'work');
    expect(login.lines().slice(-2)).toEqual([
      'Profile: work',
      `Credentials saved to: ${join(dir, 'auth.json')}`,
    ]);
    expect(login.stderr).toBe(
      "Saved as profile work: use it with --profile work, or make it the active one with 'sekuire auth switch work'.\n",
    );
    expect([mode(join(m.home, 'profiles')), mode(dir)]).toEqual([0o700, 0o700]);
    expect([mode(join(dir, 'auth.json')), mode(join(dir, 'device-key.json'))]).toEqual([0o600, 0o600]);
    // One device key per profile: the two accounts are not linked by a shared key.
    const workKey = JSON.parse(readFileSync(join(dir, 'device-key.json'), 'utf8')) as { x: string };
    expect(workKey.x).not.toBe((JSON.parse(defaultKey) as { x: string }).x);
    // The default profile's files did not move or change.
    expect(readFileSync(m.authFile, 'utf8')).toBe(defaultBefore);
    expect(readFileSync(join(m.home, 'device-key.json'), 'utf8')).toBe(defaultKey);
    expect(readdirSync(m.home).sort()).toEqual(['auth.json', 'device-key.json', 'profiles']);

    const status = await m.run(['status', '--profile', 'work', '--json']);
    expect(status.code).toBe(0);
    expect(status.json()).toMatchObject({
      profile: { name: 'work', from: '--profile' },
      source: { type: 'file', path: join(dir, 'auth.json') },
      key: { masked: masked(work.key) },
      expires_at: null,
    });
  });

  it('precedence: SEKUIRE_API_KEY > --profile > SEKUIRE_PROFILE > the active profile, and status names it', async () => {
    const m = backend.machine('precedence');
    const home = await loginAs(m, 'home@example.com');
    const work = await loginAs(m, 'work@example.com', ['--profile', 'work']);
    const ci = await loginAs(m, 'ci@example.com', ['--profile', 'ci']);

    const profileLine = async (args: string[], env: Record<string, string> = {}) => {
      const run = await m.run(['status', ...args], { env });
      expect(run.code).toBe(0);
      return [
        run.lines().find((line) => line.startsWith('Key: ')),
        run.lines().find((l) => l.startsWith('Profile: ')),
      ];
    };
    expect(await profileLine([])).toEqual([`Key: ${masked(home.key)}`, 'Profile: default']);
    expect((await m.run(['auth', 'switch', 'work'])).lines()).toEqual(['Active profile: work (was default)']);
    expect(await profileLine([])).toEqual([`Key: ${masked(work.key)}`, 'Profile: work (active)']);
    expect(await profileLine([], { SEKUIRE_PROFILE: 'ci' })).toEqual([
      `Key: ${masked(ci.key)}`,
      'Profile: ci (SEKUIRE_PROFILE)',
    ]);
    expect(await profileLine(['--profile', 'default'], { SEKUIRE_PROFILE: 'ci' })).toEqual([
      `Key: ${masked(home.key)}`,
      'Profile: default (--profile)',
    ]);
    // The key comes from the variable; requests are signed with the chosen profile's device key.
    const env = await m.run(['status', '--profile', 'ci', '--json'], { env: { SEKUIRE_API_KEY: ci.key } });
    expect(env.code).toBe(0);
    expect(env.json()).toMatchObject({ source: { type: 'env', name: 'SEKUIRE_API_KEY' }, profile: null });
    expect(env.stderr).toContain(
      `Note: SEKUIRE_API_KEY is set and takes precedence over the login stored in`,
    );
  });

  it('auth list shows every profile, masked, and which is active; --json the same facts', async () => {
    const m = backend.machine('list');
    const home = await loginAs(m, 'home@example.com');
    const work = await loginAs(m, 'work@example.com', ['--profile', 'work']);
    expect((await m.run(['auth', 'switch', 'work'])).code).toBe(0);
    const list = await m.run(['auth', 'list', '--json']);
    expect(list.code).toBe(0);
    const data = list.json<{ active: string; profiles: Record<string, unknown>[] }>();
    expect(data.active).toBe('work');
    expect(data.profiles.map((p) => [p.name, p.active, p.key_masked, p.backend, p.environment])).toEqual([
      ['default', false, masked(home.key), backend.server.url, 'test'],
      ['work', true, masked(work.key), backend.server.url, 'test'],
    ]);
    expect(data.profiles[1]).toMatchObject({
      organization: { name: 'Org of work@example.com' },
      device: { name: 'host-list' },
      key_store: 'file',
      agent_key: null,
      logged_in: true,
      error: null,
    });
    const human = await m.run(['auth', 'list']);
    expect(human.lines()).toEqual([
      expect.stringMatching(
        new RegExp(
          `^  default  ${backend.server.url}  ${masked(home.key).replace(/\./g, '\\.')} \\(test\\)  Org of home@example\\.com  host-list \\([0-9a-f]{8}\\.\\.\\.\\) {2}device key: file$`,
        ),
      ),
      expect.stringMatching(/^\* work {2}/),
    ]);
    expect(list.stdout + human.stdout).not.toContain(home.key);
  });

  it('auth switch to an unknown or malformed name: exit 2, nothing changed', async () => {
    const m = backend.machine('switch-unknown');
    await loginAs(m, 'home@example.com');
    const unknown = await m.run(['auth', 'switch', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      "There is no profile named nope: nothing was changed.\nRun 'sekuire auth list' to see the profiles, or 'sekuire login --profile nope' to add it\n",
    );
    const bad = await m.run(['auth', 'switch', 'Bad/Name']);
    expect(bad.code).toBe(2);
    expect(existsSync(join(m.home, 'active-profile'))).toBe(false);
    const flag = await m.run(['status', '--profile', '../x']);
    expect(flag.code).toBe(2);
    expect(flag.stderr.split('\n')[0]).toBe(
      `--profile is not a profile name: "../x". A name is 1 to 32 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit.`,
    );
  });

  it('a named profile without a login: exit 10 naming it and the command that fills it', async () => {
    const m = backend.machine('empty-profile');
    const run = await m.run(['status', '--profile', 'staging']);
    expect(run.code).toBe(10);
    expect(run.stderr).toBe(
      "Not logged in (profile staging, from --profile)\nRun 'sekuire login --profile staging' to authenticate\n",
    );
  });

  it('logout --profile removes that login only; logout --all every one; device keys stay', async () => {
    const m = backend.machine('logouts');
    await loginAs(m, 'home@example.com');
    await loginAs(m, 'work@example.com', ['--profile', 'work']);
    await loginAs(m, 'ci@example.com', ['--profile', 'ci']);
    const one = await m.run(['logout', '--profile', 'work', '--json']);
    expect(one.code).toBe(0);
    expect(one.json()).toMatchObject({
      profile: 'work',
      removed: true,
      unbound: true,
      credentials_path: join(m.home, 'profiles', 'work', 'auth.json'),
    });
    expect(existsSync(m.authFile)).toBe(true);
    expect(existsSync(join(m.home, 'profiles', 'ci', 'auth.json'))).toBe(true);

    const all = await m.run(['logout', '--all']);
    expect(all.code).toBe(0);
    expect(all.lines()).toEqual([
      'Profile ci:',
      'Logged out successfully!',
      `Credentials removed from: ${join(m.home, 'profiles', 'ci', 'auth.json')}`,
      `This device was unbound on ${backend.server.url}.`,
      'Profile default:',
      'Logged out successfully!',
      `Credentials removed from: ${m.authFile}`,
      `This device was unbound on ${backend.server.url}.`,
    ]);
    expect(existsSync(m.authFile)).toBe(false);
    expect(existsSync(join(m.home, 'profiles', 'ci', 'auth.json'))).toBe(false);
    expect(existsSync(join(m.home, 'profiles', 'ci', 'device-key.json'))).toBe(true);
    expect((await m.run(['logout', '--all', '--profile', 'ci'])).code).toBe(2);
  });

  it('a stored key goes only to the backend of its own profile', async () => {
    const m = backend.machine('backends');
    await loginAs(m, 'home@example.com');
    // The work profile's login names a backend nothing answers: status for it must not reach ours.
    const work = await loginAs(m, 'work@example.com', ['--profile', 'work']);
    const file = join(m.home, 'profiles', 'work', 'auth.json');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    writeFileSync(file, JSON.stringify({ ...stored, backend: 'http://127.0.0.1:1' }), { mode: 0o600 });
    const run = await m.run(['status', '--profile', 'work', '--json'], { env: { SEKUIRE_RETRIES: '0' } });
    expect(run.code).toBe(13);
    expect(run.json()).toMatchObject({ error: { backend: 'http://127.0.0.1:1' } });
    expect(run.stdout).not.toContain(work.key);
  });

  it('keeps fields it does not know (a device key store, say) when the login is replaced', async () => {
    const m = backend.machine('extra-fields');
    await loginAs(m, 'home@example.com');
    const stored = JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(m.authFile, JSON.stringify({ ...stored, key_store: 'file' }), { mode: 0o600 });
    expect((await m.run(['status', '--offline'])).code).toBe(0);
    await loginAs(m, 'home@example.com');
    expect(JSON.parse(readFileSync(m.authFile, 'utf8'))).toMatchObject({ key_store: 'file' });
  });
});
