// Key stores and profiles: each profile's device key is in the store its own login chose, and only that profile signs with it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDeviceKey } from '../../packages/cli/src/core/device-key.js';
import { useBackend } from '../helpers/backend.js';
import { useAgents } from '../helpers/ssh-agent.js';

const backend = useBackend();
const startAgent = useAgents();

function auth(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

describe('login --profile NAME --key-store agent', () => {
  it("keeps the agent key in that profile's auth.json; status --profile signs through the agent, default with its file", async () => {
    const agent = await startAgent();
    const agentKey = agent.addKey('work-profile');
    const m = backend.machine('agent-profile', { SSH_AUTH_SOCK: agent.socket });
    const home = await backend.server.createKey({ email: 'home@example.com' });
    expect((await m.run(['login', '--with-key'], { input: home.key })).code).toBe(0);
    const defaultKey = readDeviceKey(m.home);
    if (defaultKey === undefined) throw new Error('no device-key.json after a file login');

    const work = await backend.server.createKey({ email: 'work@example.com' });
    const login = await m.run(
      ['login', '--with-key', '--profile', 'work', '--key-store', 'agent', '--json'],
      {
        input: work.key,
      },
    );
    expect(login.code).toBe(0);
    expect(login.json<{ profile: string; device: Record<string, unknown> }>()).toMatchObject({
      profile: 'work',
      device: { key_store: 'agent', agent_key: agentKey.fingerprint },
    });
    const dir = join(m.home, 'profiles', 'work');
    const workAuth = auth(join(dir, 'auth.json'));
    expect(workAuth).toMatchObject({ key_store: 'agent', agent_key: agentKey.fingerprint });
    expect(workAuth.device_key).not.toBe(defaultKey.thumbprint);
    // No key file in the profile: the private half stays in the agent.
    expect(existsSync(join(dir, 'device-key.json'))).toBe(false);
    // The default profile is as it was: its own file key, its own store.
    expect(auth(m.authFile).key_store).toBe('file');
    expect(auth(m.authFile).device_key).toBe(defaultKey.thumbprint);

    const status = await m.run(['status', '--profile', 'work']);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`Device Key: agent (${agentKey.fingerprint})\n`);
    expect(status.stdout).toContain('(key accepted just now)');
    const viaEnv = await m.run(['status', '--json'], { env: { SEKUIRE_PROFILE: 'work' } });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.json<{ device: Record<string, unknown> }>().device).toMatchObject({
      key_store: 'agent',
      agent_key: agentKey.fingerprint,
    });
    const plain = await m.run(['status']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toContain('Device Key:');

    // Only the work profile depends on the agent: with its key gone, work is refused (exit 15)
    // before anything is sent, and default still signs with its file.
    agent.removeKey(agentKey);
    const refused = await m.run(['status', '--profile', 'work']);
    expect(refused.code).toBe(15);
    // The hint's command is the work profile's own login.
    expect(refused.stderr).toContain("run 'sekuire login --profile work --rebind'");
    expect(refused.stderr).not.toContain("'sekuire login --rebind'");
    expect((await m.run(['status'])).code).toBe(0);
  });

  it("a store change in a named profile rotates that profile's key only, into the profile's own file", async () => {
    const agent = await startAgent();
    agent.addKey('rotate-in-profile');
    const m = backend.machine('agent-profile-rotate', { SSH_AUTH_SOCK: agent.socket });
    const home = await backend.server.createKey({ email: 'home@example.com' });
    expect((await m.run(['login', '--with-key'], { input: home.key })).code).toBe(0);
    const defaultKey = readDeviceKey(m.home);
    const work = await backend.server.createKey({ email: 'work@example.com' });
    const args = ['login', '--with-key', '--profile', 'work'];
    expect((await m.run([...args, '--key-store', 'agent'], { input: work.key })).code).toBe(0);

    const back = await m.run([...args, '--key-store', 'file'], { input: work.key });
    expect(back.code).toBe(0);
    expect(back.stderr).toContain("This device's key moved from the agent store to the file store");
    const dir = join(m.home, 'profiles', 'work');
    const workKey = readDeviceKey(dir);
    if (workKey === undefined) throw new Error("no device-key.json in the work profile's directory");
    expect(auth(join(dir, 'auth.json'))).toMatchObject({ key_store: 'file', device_key: workKey.thumbprint });
    expect(auth(join(dir, 'auth.json')).agent_key).toBeUndefined();
    expect(workKey.thumbprint).not.toBe(defaultKey?.thumbprint);
    expect(readDeviceKey(m.home)?.thumbprint).toBe(defaultKey?.thumbprint);
    expect((await m.run(['status', '--profile', 'work'])).code).toBe(0);
    expect((await m.run(['status'])).code).toBe(0);
  });

  it("the old key lost in a named profile: the hint's command names the profile", async () => {
    const agent = await startAgent();
    const agentKey = agent.addKey('lost-in-profile');
    const m = backend.machine('agent-profile-lost', { SSH_AUTH_SOCK: agent.socket });
    const work = await backend.server.createKey({ email: 'work@example.com' });
    const args = ['login', '--with-key', '--profile', 'work'];
    expect((await m.run([...args, '--key-store', 'agent'], { input: work.key })).code).toBe(0);
    agent.removeKey(agentKey);
    const refused = await m.run([...args, '--key-store', 'file'], { input: work.key });
    expect(refused.code).toBe(15);
    expect(refused.stderr).toContain(
      "If that key is gone for good, run 'sekuire login --profile work --key-store file --rebind'",
    );
  });
});

describe('auth list shows each profile key store', () => {
  it('file for default, agent with its fingerprint for work; text and --json', async () => {
    const agent = await startAgent();
    const agentKey = agent.addKey('listed');
    const m = backend.machine('agent-profile-list', { SSH_AUTH_SOCK: agent.socket });
    const home = await backend.server.createKey({ email: 'home@example.com' });
    expect((await m.run(['login', '--with-key'], { input: home.key })).code).toBe(0);
    const work = await backend.server.createKey({ email: 'work@example.com' });
    const login = await m.run(['login', '--with-key', '--profile', 'work', '--key-store', 'agent'], {
      input: work.key,
    });
    expect(login.code).toBe(0);

    const list = await m.run(['auth', 'list', '--json']);
    expect(list.code).toBe(0);
    const data = list.json<{ profiles: Record<string, unknown>[] }>();
    expect(data.profiles.map((p) => [p.name, p.key_store, p.agent_key])).toEqual([
      ['default', 'file', null],
      ['work', 'agent', agentKey.fingerprint],
    ]);
    const human = await m.run(['auth', 'list']);
    expect(human.code).toBe(0);
    expect(human.lines()).toEqual([
      expect.stringMatching(/^\* default {2}.* {2}device key: file$/),
      expect.stringMatching(/^ {2}work {2}.* {2}device key: agent \(SHA256:[A-Za-z0-9+/]{43}\)$/),
    ]);
    expect(human.stdout).toContain(`device key: agent (${agentKey.fingerprint})`);
  });
});
