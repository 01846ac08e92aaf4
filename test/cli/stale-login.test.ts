// A stored login that outlived its binding: moved or unbound since, `status` exits 12 saying what
// happened and when, until a new login; a key used through SEKUIRE_API_KEY keeps working.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { MoveApprover, quickSleep } from '../helpers/moves.js';
import { runServer } from '../helpers/server-commands.js';

const backend = useBackend();

async function loggedIn(m: TestMachine, key: string): Promise<void> {
  const run = await m.run(['login', '--with-key'], { input: key });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
}

const TIME = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC';

describe('a stored login whose binding moved or was unbound', () => {
  it('moved to machine 2, which logged out: machine 1 exits 12 until it logs in again', async () => {
    const email = 'stale-move@example.com';
    await backend.server.createUser(email);
    const { key, id } = await backend.server.createKey({ email });
    const one = backend.machine('stale-one');
    const two = backend.machine('stale-two');
    await loggedIn(one, key);
    expect((await one.run(['status'])).code).toBe(0);

    const owner = await MoveApprover.signIn(backend.server.url, email);
    const moving = two.run(['login', '--with-key', '--rebind'], {
      input: key,
      context: { sleep: quickSleep },
    });
    const move = await owner.waitFor(id);
    expect((await owner.decide(move.id, 'approve')).status).toBe(200);
    expect((await moving).code).toBe(0);
    const twoName = (JSON.parse(readFileSync(two.authFile, 'utf8')) as { device_name: string }).device_name;
    const logout = await two.run(['logout']);
    expect(logout.code).toBe(0);

    const stale = await one.run(['status']);
    expect(stale.code).toBe(12);
    expect(stale.stdout).toBe('');
    expect(stale.stderr).toMatch(
      new RegExp(
        `^The stored login in ${one.authFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is stale: the key was moved from this device to ${twoName} \\(linux\\) at ${TIME}, and is bound to no device now\\.\\n`,
      ),
    );
    expect(stale.stderr).toContain("Run 'sekuire login' to bind the key to this device again");
    const asJson = await one.run(['status', '--json']);
    expect(asJson.code).toBe(12);
    expect(asJson.json()).toMatchObject({
      error: {
        code: 'login_stale',
        path: one.authFile,
        past_binding: { ended_by: 'move', moved_to: { name: twoName, os: 'linux' } },
      },
    });

    // A new login makes it live again.
    const again = await one.run(['login', '--with-key'], { input: key });
    expect(again.code).toBe(0);
    expect((await one.run(['status'])).code).toBe(0);
  });

  it("an operator's unbind: exit 12 saying the binding was removed, and when", async () => {
    const { key, id } = await backend.server.createKey({ email: 'stale-unbind@example.com' });
    const one = backend.machine('stale-unbound');
    await loggedIn(one, key);
    const unbind = await runServer(['unbind', '--db', backend.server.dbPath, '--key', id]);
    expect(unbind.code).toBe(0);
    const stale = await one.run(['status']);
    expect(stale.code).toBe(12);
    expect(stale.stderr).toMatch(
      new RegExp(
        `is stale: this device's binding of the key was removed at ${TIME} \\(a logout elsewhere, or an administrator\\), and the key is bound to no device now\\.\\n`,
      ),
    );
    // Every command that asks the backend with the stored login says so too.
    const test = await one.run(['auth', 'test']);
    expect(test.code).toBe(12);
    expect(test.stderr).toContain("this device's binding of the key was removed at ");
    const whoami = await one.run(['whoami']);
    expect(whoami.code).toBe(12);
    expect(whoami.stderr).toMatch(
      new RegExp(
        `is stale: the key was bound to this device when you logged in \\(${TIME}\\), and is bound to no device now\\.\\n`,
      ),
    );
    // The same key through SEKUIRE_API_KEY is no stored login: accepted, unbound, exit 0.
    const fromEnv = await one.run(['status'], { env: { SEKUIRE_API_KEY: key } });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toContain(
      "Binding: the key is not bound to any device (run 'sekuire login' to bind it here)",
    );
  });

  it('in a named profile: exit 12 naming the login into that profile, for status, auth test and whoami', async () => {
    const { key, id } = await backend.server.createKey({ email: 'stale-profile@example.com' });
    const one = backend.machine('stale-profile');
    const login = await one.run(['login', '--with-key', '--profile', 'work'], { input: key });
    expect(login.code).toBe(0);
    const unbind = await runServer(['unbind', '--db', backend.server.dbPath, '--key', id]);
    expect(unbind.code).toBe(0);
    const path = join(one.home, 'profiles', 'work', 'auth.json');
    for (const [args, env] of [
      [['status', '--profile', 'work'], {}],
      [['auth', 'test', '--profile', 'work'], {}],
      [['whoami', '--profile', 'work'], {}],
      [['status'], { SEKUIRE_PROFILE: 'work' }],
    ] as const) {
      const run = await one.run(args, { env });
      expect(run.code, args.join(' ')).toBe(12);
      expect(run.stderr, args.join(' ')).toContain(`The stored login in ${path} is stale: `);
      expect(run.stderr, args.join(' ')).toContain(
        "Run 'sekuire login --profile work' to bind the key to this device again",
      );
    }
    const asJson = await one.run(['status', '--profile', 'work', '--json']);
    expect(asJson.json()).toMatchObject({ error: { code: 'login_stale', path, profile: 'work' } });
  });

  it('a key never bound, used through SEKUIRE_API_KEY, keeps working as before', async () => {
    const { key } = await backend.server.createKey();
    const ci = backend.machine('stale-ci', { SEKUIRE_API_KEY: key });
    const run = await ci.run(['status']);
    expect(run.code).toBe(0);
  });
});
