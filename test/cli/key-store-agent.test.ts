// The agent store against OpenSSH's ssh-agent: a throwaway P-256 key signs every proof, and only that key.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import { Machine } from '../helpers/cli.js';
import type { TestMachine } from '../helpers/context.js';
import { json } from '../helpers/fake-backend.js';
import { type AgentKey, type TestAgent, useAgents } from '../helpers/ssh-agent.js';

const backend = useBackend();
const startAgent = useAgents();

function stored(m: TestMachine | Machine): Record<string, unknown> {
  return JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, unknown>;
}

async function agentLogin(m: TestMachine, key: string, args: string[] = []) {
  return m.run(['login', '--with-key', '--key-store', 'agent', ...args], { input: key });
}

describe('login --key-store agent', () => {
  let agent: TestAgent;
  let p256: AgentKey;
  beforeAll(async () => {
    agent = await startAgent();
    // An ed25519 key too: the agent store passes over keys that are not P-256.
    agent.addKey('other-ed25519', 'ed25519');
    p256 = agent.addKey('device-p256');
  });

  it('stores the fingerprint only; status signs through the agent and the backend verifies it', async () => {
    const { key } = await backend.server.createKey();
    const m = backend.machine('agent-login', { SSH_AUTH_SOCK: agent.socket });
    const login = await agentLogin(m, key, ['--json']);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(login.json<{ device: Record<string, unknown> }>().device).toMatchObject({
      key_store: 'agent',
      agent_key: p256.fingerprint,
    });
    const auth = stored(m);
    expect(auth.key_store).toBe('agent');
    expect(auth.agent_key).toBe(p256.fingerprint);
    expect(auth.agent_key).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    // No key file: the private half never leaves the agent.
    expect(existsSync(join(m.home, 'device-key.json'))).toBe(false);

    const status = await m.run(['status']);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`Device Key: agent (${p256.fingerprint})\n`);
    expect(status.stdout).toContain('(key accepted just now)');
    const whoami = await m.run(['auth', 'whoami', '--json']);
    expect(whoami.code).toBe(0);
    expect(whoami.json<{ device: Record<string, unknown> }>().device).toMatchObject({
      key_store: 'agent',
      agent_key: p256.fingerprint,
    });
    const offline = await m.run(['status', '--offline', '--json']);
    expect(offline.code).toBe(0);
    expect(offline.json<{ device: Record<string, unknown> }>().device.key_store).toBe('agent');
  });

  it('without SSH_AUTH_SOCK: exit 15, never a key file instead', async () => {
    const { key } = await backend.server.createKey();
    const m = backend.machine('agent-no-socket');
    const run = await agentLogin(m, key);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(
      'SSH_AUTH_SOCK is not set: there is no SSH agent to sign with. Nothing was sent.',
    );
    expect(existsSync(join(m.home, 'device-key.json'))).toBe(false);
    expect(existsSync(m.authFile)).toBe(false);
    // Found before the key is read: with nothing on stdin, still this refusal, not "no key given".
    const early = await m.run(['login', '--with-key', '--key-store', 'agent'], { input: '' });
    expect(early.code).toBe(15);
    expect(early.stderr).toContain('SSH_AUTH_SOCK is not set');
  });

  it('--agent-key naming a key the agent does not hold: exit 15 listing the ones it does', async () => {
    const { key } = await backend.server.createKey();
    const m = backend.machine('agent-unknown-key', { SSH_AUTH_SOCK: agent.socket });
    const missing = `SHA256:${'A'.repeat(43)}`;
    const run = await agentLogin(m, key, ['--agent-key', missing]);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(
      `holds no ecdsa-sha2-nistp256 key ${missing}. Its P-256 keys:\n  ${p256.fingerprint} device-p256\n`,
    );
    const malformed = await agentLogin(m, key, ['--agent-key', 'MD5:00:11']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain("--agent-key takes an agent key's SHA256 fingerprint");
    const wrongStore = await m.run(['login', '--with-key', '--agent-key', p256.fingerprint], { input: key });
    expect(wrongStore.code).toBe(2);
    expect(wrongStore.stderr).toContain(
      '--agent-key applies to --key-store agent (or auto); the key store is file.',
    );
  });
});

describe('an agent that no longer holds the key', () => {
  it('key removed: exit 15 with what to do, and nothing is sent', async () => {
    const agent = await startAgent();
    const device = agent.addKey('removed-later');
    const { key } = await backend.server.createKey();
    const m = backend.machine('agent-removed', { SSH_AUTH_SOCK: agent.socket });
    expect((await agentLogin(m, key)).code).toBe(0);
    agent.removeKey(device);
    const fake = await backend.fake(json(200, {}));
    const run = await m.run(['status', '--backend', fake.url]);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(
      `The SSH agent at ${agent.socket} does not hold this device's key (${device.fingerprint}); the request was refused here and nothing was sent.`,
    );
    expect(run.stderr).toContain("If the key is gone for good, run 'sekuire login --rebind'");
    expect(fake.requests).toHaveLength(0);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('another agent with another P-256 key: refused the same way, the other key never signs', async () => {
    const first = await startAgent();
    const device = first.addKey('first-agent');
    const second = await startAgent();
    second.addKey('second-agent');
    const { key } = await backend.server.createKey();
    const m = backend.machine('agent-swapped', { SSH_AUTH_SOCK: first.socket });
    expect((await agentLogin(m, key)).code).toBe(0);
    const run = await m.run(['status'], { env: { SSH_AUTH_SOCK: second.socket } });
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(`does not hold this device's key (${device.fingerprint})`);
  });

  it('the agent stopped for good: exit 15 naming the socket', async () => {
    const agent = await startAgent();
    agent.addKey('stopped');
    const { key } = await backend.server.createKey();
    const m = backend.machine('agent-stopped', { SSH_AUTH_SOCK: agent.socket });
    expect((await agentLogin(m, key)).code).toBe(0);
    await agent.stop();
    const run = await m.run(['status']);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(
      `The SSH agent at ${agent.socket} did not list its keys: cannot connect to ${agent.socket}`,
    );
  });

  it('the agent killed while the CLI waits for its answer: exit 15, nothing sent (built CLI)', async () => {
    const agent = await startAgent();
    agent.addKey('killed');
    const { key } = await backend.server.createKey();
    const m = backend.machine('agent-killed', { SSH_AUTH_SOCK: agent.socket });
    expect((await agentLogin(m, key)).code).toBe(0);
    // The same home, run by the built CLI as a process of its own.
    const cli = new Machine(m.machineId as string, {
      SSH_AUTH_SOCK: agent.socket,
      SEKUIRE_BACKEND_URL: backend.server.url,
    });
    const fake = await backend.fake(json(200, {}));
    try {
      agent.signal('SIGSTOP');
      const running = cli.start(['status', '--backend', fake.url], {
        env: { SEKUIRE_HOME: m.home, HOME: m.dir },
      });
      // The CLI has connected to the stopped agent once a socket of its own, beyond its stdio
      // pipes, is in the connected state (03) in /proc/net/unix: the kernel queued the connection
      // the agent will never accept, and the request waits there for an answer.
      const pid = running.pid as number;
      const connected = () => {
        const inodes = readdirSync(`/proc/${pid}/fd`)
          .filter((fd) => Number(fd) > 2)
          .flatMap((fd) => {
            try {
              return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]];
            } catch {
              return [];
            }
          })
          .filter((inode): inode is string => inode !== undefined);
        return readFileSync('/proc/net/unix', 'utf8')
          .split('\n')
          .map((line) => line.trim().split(/\s+/))
          .some((fields) => inodes.includes(fields[6] as string) && fields[5] === '03');
      };
      while (!connected()) await new Promise((resolve) => setTimeout(resolve, 10));
      agent.signal('SIGKILL');
      const run = await running.done;
      expect(run.code).toBe(15);
      expect(run.stderr).toContain(`The SSH agent at ${agent.socket} did not list its keys:`);
      // How the CLI hears of it depends on when the kill lands: the socket closed, reset, or a
      // write refused (EPIPE) when the request goes out after the agent died.
      expect(run.stderr).toMatch(
        /(closed the connection without answering|dropped the connection before answering \((ECONNRESET|EPIPE)\))\. Nothing was sent\./,
      );
      expect(fake.requests).toHaveLength(0);
    } finally {
      cli.cleanup();
    }
  });
});

describe('several P-256 keys in the agent', () => {
  it('no terminal and no --agent-key: exit 2 naming the flag and listing them; --agent-key picks one', async () => {
    const agent = await startAgent();
    const one = agent.addKey('key-one');
    const two = agent.addKey('key-two');
    const { key } = await backend.server.createKey();
    const m = backend.machine('agent-two-keys', { SSH_AUTH_SOCK: agent.socket });
    const ambiguous = await agentLogin(m, key);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain(
      `holds 2 ecdsa-sha2-nistp256 keys; name the one this device signs with:\n  ${one.fingerprint} key-one\n  ${two.fingerprint} key-two\n`,
    );
    expect(ambiguous.stderr).toContain(`--agent-key ${one.fingerprint}`);
    expect(existsSync(m.authFile)).toBe(false);

    const picked = await agentLogin(m, key, ['--agent-key', two.fingerprint]);
    expect(picked.stderr).toBe('');
    expect(picked.code).toBe(0);
    expect(stored(m).agent_key).toBe(two.fingerprint);
    expect((await m.run(['status'])).code).toBe(0);
    // The other key signs nothing for this login: without the chosen one, refused.
    agent.removeKey(two);
    const run = await m.run(['status']);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(`does not hold this device's key (${two.fingerprint})`);
  });
});

describe('what status parses', () => {
  /** The dist/ bundles a run of the built CLI required. */
  async function bundlesOf(cli: Machine, args: string[], env: Record<string, string>): Promise<string[]> {
    const out = join(cli.dir, 'loaded.txt');
    const preload = resolve(import.meta.dirname, '../helpers/loaded-files-preload.cjs');
    const run = await cli.run(args, {
      env: { ...env, NODE_OPTIONS: `--require ${preload}`, LOADED_FILES_OUT: out },
    });
    expect(run.code, run.stderr).toBe(0);
    return readFileSync(out, 'utf8')
      .split('\n')
      .filter((file) => file.includes('/dist/'))
      .map((file) => basename(file))
      .sort();
  }

  it('the file store: status.cjs alone; the agent store: status.cjs, then key-store.cjs', async () => {
    const agent = await startAgent();
    agent.addKey('parsed');
    const file = backend.machine('parsed-file');
    const viaAgent = backend.machine('parsed-agent', { SSH_AUTH_SOCK: agent.socket });
    for (const [m, store] of [
      [file, 'file'],
      [viaAgent, 'agent'],
    ] as const) {
      const { key } = await backend.server.createKey();
      expect((await m.run(['login', '--with-key', '--key-store', store], { input: key })).code).toBe(0);
    }
    const spawned = (m: TestMachine, extra: Record<string, string>) =>
      new Machine(m.machineId as string, { SEKUIRE_HOME: m.home, HOME: m.dir, ...extra });
    const fileCli = spawned(file, {});
    const agentCli = spawned(viaAgent, { SSH_AUTH_SOCK: agent.socket });
    try {
      for (const args of [['status'], ['status', '--offline']]) {
        expect(await bundlesOf(fileCli, args, {})).toEqual(['cli.cjs', 'status.cjs']);
        expect(await bundlesOf(agentCli, args, {})).toEqual(['cli.cjs', 'key-store.cjs', 'status.cjs']);
      }
    } finally {
      fileCli.cleanup();
      agentCli.cleanup();
    }
  });
});
