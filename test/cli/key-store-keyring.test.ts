// The keyring store against gnome-keyring on a session D-Bus, run by the built CLI (the native binding reads the process's own environment).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Machine } from '../helpers/cli.js';
import { useReferenceServer } from '../helpers/e2e.js';
import { json } from '../helpers/fake-backend.js';
import { TestKeyring } from '../helpers/keyring.js';

const e2e = useReferenceServer();
let keyring: TestKeyring;
beforeAll(async () => {
  keyring = await TestKeyring.start();
});
afterAll(async () => {
  await keyring?.stop();
});

function stored(m: Machine): Record<string, string> {
  return JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, string>;
}

describe('login --key-store keyring', () => {
  it('keeps the private key in the keyring, none in SEKUIRE_HOME; every proof verifies', async () => {
    const { key } = await e2e.server.createKey();
    const m = e2e.machine('keyring-login', keyring.env);
    const login = await m.run(['login', '--with-key', '--key-store', 'keyring', '--json'], { input: key });
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(login.json<{ device: Record<string, unknown> }>().device.key_store).toBe('keyring');
    expect(stored(m).key_store).toBe('keyring');
    expect(existsSync(join(m.home, 'device-key.json'))).toBe(false);
    const status = await m.run(['status']);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('Device Key: keyring\n');
    expect((await m.run(['status', '--offline'])).code).toBe(0);
    // A second login with the same store finds the same key: no rotation, no move.
    const again = await m.run(['login', '--with-key', '--key-store', 'keyring'], { input: key });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('moved');
  });

  it('auto without an SSH agent picks the keyring, and says so', async () => {
    const { key } = await e2e.server.createKey();
    const m = e2e.machine('keyring-auto', keyring.env);
    const run = await m.run(['login', '--with-key', '--key-store', 'auto'], {
      input: key,
      env: { SSH_AUTH_SOCK: undefined },
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      'Key store: auto chose the OS keyring (no SSH agent (SSH_AUTH_SOCK is not set)).\n',
    );
    expect(stored(m).key_store).toBe('keyring');
    expect((await m.run(['status'])).code).toBe(0);
  });

  it('no D-Bus: exit 15 saying so, never a key file instead', async () => {
    const { key } = await e2e.server.createKey();
    const m = e2e.machine('keyring-no-bus', {});
    const run = await m.run(['login', '--with-key', '--key-store', 'keyring'], {
      input: key,
      env: { DBUS_SESSION_BUS_ADDRESS: undefined, XDG_RUNTIME_DIR: undefined },
    });
    expect(run.code).toBe(15);
    expect(run.stderr).toContain("The OS keyring did not store the key: Couldn't access platform storage");
    expect(run.stderr).toContain(
      'start its service (on Linux, a Secret Service such as gnome-keyring on the session D-Bus)',
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(m.home, 'device-key.json'))).toBe(false);
    expect(existsSync(m.authFile)).toBe(false);
  });

  it('a stored keyring login without its D-Bus: exit 15, nothing sent', async () => {
    const { key } = await e2e.server.createKey();
    const m = e2e.machine('keyring-bus-gone', keyring.env);
    expect((await m.run(['login', '--with-key', '--key-store', 'keyring'], { input: key })).code).toBe(0);
    const fake = await e2e.fake(json(200, {}));
    const run = await m.run(['status', '--backend', fake.url], {
      env: { DBUS_SESSION_BUS_ADDRESS: undefined, XDG_RUNTIME_DIR: undefined },
    });
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(
      `The OS keyring has no device key for this home (sekuire / device-key:${m.home}), or cannot be reached; the request was refused here and nothing was sent.`,
    );
    expect(fake.requests).toHaveLength(0);
    expect(existsSync(join(m.home, 'device-key.json'))).toBe(false);
  });

  it('a D-Bus that never answers: exit 15 after the 3 s bound, nothing sent', async () => {
    const { key } = await e2e.server.createKey();
    const m = e2e.machine('keyring-hung-bus', keyring.env);
    expect((await m.run(['login', '--with-key', '--key-store', 'keyring'], { input: key })).code).toBe(0);
    const fake = await e2e.fake(json(200, {}));
    keyring.pauseBus('SIGSTOP');
    try {
      const run = await m.run(['status', '--backend', fake.url]);
      expect(run.code).toBe(15);
      expect(run.stderr).toContain('The OS keyring did not answer: no answer within 3 s. Nothing was sent.');
      expect(fake.requests).toHaveLength(0);
    } finally {
      keyring.pauseBus('SIGCONT');
    }
    expect((await m.run(['status'])).code).toBe(0);
  });
});
