// Upgrading: a home written by the release before profiles keeps working, unchanged, as the profile `default`.
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestMachine } from '../helpers/context.js';
import { startServer, type TestServer } from '../helpers/server.js';

const FIXTURE = resolve(import.meta.dirname, '../fixtures/release-0.1.0');
const MACHINE_ID = '0123456789abcdef0123456789abcdef';
const STORED = JSON.parse(readFileSync(join(FIXTURE, 'home/auth.json'), 'utf8')) as Record<string, string>;

let server: TestServer;
let machine: TestMachine;

beforeAll(async () => {
  machine = new TestMachine('release', { SEKUIRE_MACHINE_ID: MACHINE_ID });
  const data = join(machine.dir, 'server');
  mkdirSync(data, { mode: 0o700 });
  copyFileSync(join(FIXTURE, 'server.sqlite'), join(data, 'sekuire.db'));
  copyFileSync(join(FIXTURE, 'server-secret.txt'), join(data, 'sekuire.db.secret'));
  chmodSync(join(data, 'sekuire.db.secret'), 0o600);
  server = await startServer({
    database: join(data, 'sekuire.db'),
    secretFile: join(data, 'sekuire.db.secret'),
  });
  mkdirSync(machine.home, { mode: 0o700 });
  for (const name of ['auth.json', 'device-key.json']) {
    copyFileSync(join(FIXTURE, 'home', name), join(machine.home, name));
    chmodSync(join(machine.home, name), 0o600);
  }
});

afterAll(async () => {
  await server?.stop();
  machine?.cleanup();
});

function files(): Record<string, string> {
  return Object.fromEntries(
    ['auth.json', 'device-key.json'].map((name) => [name, readFileSync(join(machine.home, name), 'utf8')]),
  );
}

describe('a home written by sekuire 0.1.0', () => {
  it('is the profile default: status (online, signed with its device key), whoami, auth list; nothing rewritten', async () => {
    const before = files();
    const status = await machine.run(['status', '--backend', server.url, '--json']);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.json()).toMatchObject({
      profile: { name: 'default', from: 'default' },
      source: { type: 'file', path: machine.authFile },
      key: { id: STORED.key_id },
      device: { fingerprint: STORED.device_fingerprint, bound_here: true },
      expires_at: null,
    });
    const offline = await machine.run(['status', '--offline']);
    expect(offline.code).toBe(0);
    expect(offline.lines()).toContain('Profile: default');
    const whoami = await machine.run(['auth', 'whoami', '--backend', server.url]);
    expect([whoami.code, whoami.lines()[2]]).toEqual([0, 'Email: release@example.com']);
    const list = await machine.run(['auth', 'list', '--json']);
    expect(list.json()).toMatchObject({
      active: 'default',
      profiles: [
        {
          name: 'default',
          active: true,
          logged_in: true,
          key_masked: `${STORED.api_key?.slice(0, 11)}...${STORED.api_key?.slice(-3)}`,
          backend: STORED.backend,
        },
      ],
    });
    expect(files()).toEqual(before);
    expect(readdirSync(machine.home).sort()).toEqual(['auth.json', 'device-key.json']);
  });

  it('adding and switching to another profile leaves its files as they were, and switching back finds it', async () => {
    const before = files();
    const { key } = await server.createKey({ email: 'work@example.com' });
    const login = await machine.run(['login', '--with-key', '--profile', 'work', '--backend', server.url], {
      input: key,
    });
    expect(login.code).toBe(0);
    expect((await machine.run(['auth', 'switch', 'work'])).code).toBe(0);
    const work = await machine.run(['status', '--json']);
    expect(work.json()).toMatchObject({ profile: { name: 'work', from: 'active' } });
    expect((await machine.run(['auth', 'switch', 'default'])).code).toBe(0);
    const back = await machine.run(['status', '--backend', server.url, '--json']);
    expect(back.code).toBe(0);
    expect(back.json()).toMatchObject({
      profile: { name: 'default', from: 'active' },
      key: { id: STORED.key_id },
    });
    expect(files()).toEqual(before);
  });
});
