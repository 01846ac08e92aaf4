// --key-store auto: an agent with a P-256 key, then the keyring, then the file; login says which and why.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { useAgents } from '../helpers/ssh-agent.js';

const backend = useBackend();
const startAgent = useAgents();

function stored(m: TestMachine): Record<string, string> {
  return JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, string>;
}

describe('login --key-store auto', () => {
  it('picks the agent when it holds a P-256 key, and says so on stderr', async () => {
    const agent = await startAgent();
    const device = agent.addKey('auto-agent');
    const { key } = await backend.server.createKey();
    const m = backend.machine('auto-agent', { SSH_AUTH_SOCK: agent.socket });
    const run = await m.run(['login', '--with-key', '--key-store', 'auto'], { input: key });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      `Key store: auto chose the SSH agent (the SSH agent key ${device.fingerprint}).\n`,
    );
    expect(stored(m).key_store).toBe('agent');
    expect((await m.run(['status'])).code).toBe(0);
  });

  it('passes over an agent without a P-256 key and a keyring it cannot reach: the file, saying why', async () => {
    const agent = await startAgent();
    agent.addKey('auto-ed25519', 'ed25519');
    const { key } = await backend.server.createKey();
    const m = backend.machine('auto-file', { SSH_AUTH_SOCK: agent.socket });
    // config key_store, not the flag: the setting is read the same way.
    expect((await m.run(['config', 'set', 'key_store', 'auto'])).code).toBe(0);
    const run = await m.run(['login', '--with-key'], { input: key });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      `Key store: auto chose the file ${join(m.home, 'device-key.json')} (the SSH agent holds no P-256 key; no usable keyring (keyring_unavailable)).\n`,
    );
    expect(stored(m).key_store).toBe('file');
    expect((await m.run(['status'])).code).toBe(0);
  });

  it('no SSH_AUTH_SOCK: says there is no agent', async () => {
    const { key } = await backend.server.createKey();
    const m = backend.machine('auto-no-agent');
    const run = await m.run(['login', '--with-key', '--key-store', 'auto'], { input: key });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      '(no SSH agent (SSH_AUTH_SOCK is not set); no usable keyring (keyring_unavailable))',
    );
  });

  it('a key store that is not one: exit 2 before the key is read', async () => {
    const m = backend.machine('auto-typo');
    const run = await m.run(['login', '--with-key', '--key-store', 'yubikey'], { input: 'not read' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      '--key-store must be one of file, agent, keyring, tpm, auto (got "yubikey").',
    );
    const setting = await m.run(['config', 'set', 'key_store', 'vault']);
    expect(setting.code).toBe(2);
  });
});
