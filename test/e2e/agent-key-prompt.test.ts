// login --key-store agent in a real terminal (tmux), the agent holding two P-256 keys: the CLI lists them and asks which.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../helpers/cli.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { TestAgent } from '../helpers/ssh-agent.js';
import { useTerminal } from '../helpers/terminal.js';

let server: TestServer;
let agent: TestAgent;
const terminal = useTerminal();

beforeAll(async () => {
  server = await startServer();
  agent = await TestAgent.start();
});
afterAll(async () => {
  await Promise.all([server?.stop(), agent?.stop()]);
});

describe('several agent keys and a terminal', () => {
  it('lists the P-256 keys by fingerprint and comment; the one picked is stored', async () => {
    const one = agent.addKey('laptop-key');
    const two = agent.addKey('yubikey-key');
    const { key } = await server.createKey();
    const m = new Machine('agent-prompt');
    try {
      terminal.start('pick', m, ['login', '--key-store', 'agent'], {
        SEKUIRE_BACKEND_URL: server.url,
        SSH_AUTH_SOCK: agent.socket,
      });
      await terminal.waitFor('pick', /Enter your API Key:/);
      terminal.paste('pick', key);
      terminal.keys('pick', 'Enter');
      const asked = await terminal.waitFor('pick', /which one is this device's key\?/);
      expect(asked).toContain(`${one.fingerprint} laptop-key`);
      expect(asked).toContain(`${two.fingerprint} yubikey-key`);
      terminal.keys('pick', 'Down');
      terminal.keys('pick', 'Enter');
      const done = await terminal.waitFor('pick', /EXIT:\d+/);
      expect(done).toContain('EXIT:0');
      expect(done).toContain(`Device Key: agent (${two.fingerprint})`);
      const stored = JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, string>;
      expect(stored.agent_key).toBe(two.fingerprint);
    } finally {
      m.cleanup();
    }
  });
});
