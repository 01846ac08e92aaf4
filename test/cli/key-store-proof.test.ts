// The device-proof tests every store passes, as the file store does: signed requests, a copied login, a slow clock, logout.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Context } from '../../packages/cli/src/cli/context.js';
import { useBackend } from '../helpers/backend.js';
import { machineIdFor, type TestMachine } from '../helpers/context.js';
import { TestKeyring } from '../helpers/keyring.js';
import { TestAgent } from '../helpers/ssh-agent.js';
import { TestTpm } from '../helpers/swtpm.js';

const backend = useBackend();
let agent: TestAgent;
let keyring: TestKeyring;
let tpm: TestTpm;
beforeAll(async () => {
  // One after the other: each is assigned as it starts, so afterAll stops whatever did start.
  agent = await TestAgent.start();
  keyring = await TestKeyring.start();
  tpm = await TestTpm.start();
  agent.addKey('proof-suite');
});
afterAll(async () => {
  await Promise.all([agent?.stop(), keyring?.stop(), tpm?.stop()]);
});

interface Store {
  readonly name: 'file' | 'agent' | 'keyring' | 'tpm';
  env(): Record<string, string>;
  /** What `status` does from another home on the same machine with a copy of auth.json. */
  readonly copied: { readonly code: number; readonly says: string };
}

const STORES: Store[] = [
  {
    name: 'file',
    env: () => ({}),
    copied: {
      code: 12,
      says: 'were bound with a device key this machine does not hold (there is no device-key.json)',
    },
  },
  {
    // The agent is the device: another home of the same account, on the same agent, is the same device.
    name: 'agent',
    env: () => ({ SSH_AUTH_SOCK: agent.socket }),
    copied: { code: 0, says: '' },
  },
  {
    name: 'keyring',
    env: () => keyring.env,
    copied: { code: 15, says: 'The OS keyring has no device key for this home' },
  },
  {
    name: 'tpm',
    env: () => ({ TPM2TOOLS_TCTI: tpm.tcti }),
    copied: { code: 15, says: "The login's key store is tpm, but" },
  },
];

async function loggedIn(m: TestMachine, key: string, store: Store): Promise<void> {
  const run = await m.run(['login', '--with-key', '--key-store', store.name], { input: key });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
}

/** A context whose proofs are dated by a clock `offsetMs` away from the real one. */
function skewed(m: TestMachine, offsetMs: number): Partial<Context> {
  const { ctx } = m.context();
  return { connect: (options) => ctx.connect({ ...options, wallClock: () => Date.now() + offsetMs }) };
}

describe.each(STORES)('the $name store', (store) => {
  it('signs status, whoami and logout; the backend verifies each', async () => {
    const { key, id } = await backend.server.createKey();
    const m = backend.machine(`proof-${store.name}`, store.env());
    await loggedIn(m, key, store);
    const stored = JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, string>;
    expect(stored.key_store).toBe(store.name);
    expect((await m.run(['status'])).code).toBe(0);
    expect((await m.run(['auth', 'whoami'])).code).toBe(0);
    const logout = await m.run(['logout', '--json']);
    expect(logout.code).toBe(0);
    expect(logout.json<{ unbound: boolean }>().unbound).toBe(true);
    const events = ((await backend.server.audit(id)) as { event: string }[]).map((event) => event.event);
    expect(events).toEqual(['create', 'bind', 'unbind']);
  });

  it('a copy of auth.json in another home on the same machine', async () => {
    const { key } = await backend.server.createKey();
    const box = machineIdFor(`proof-box-${store.name}`);
    const a = backend.machine(`proof-owner-${store.name}`, store.env(), box);
    const b = backend.machine(`proof-copy-${store.name}`, store.env(), box);
    await loggedIn(a, key, store);
    mkdirSync(b.home, { recursive: true, mode: 0o700 });
    copyFileSync(a.authFile, b.authFile);
    const run = await b.run(['status']);
    expect(run.code).toBe(store.copied.code);
    expect(run.stderr).toContain(store.copied.says);
    // And on another machine: refused before any store is asked.
    const other = backend.machine(`proof-other-${store.name}`, store.env());
    mkdirSync(other.home, { recursive: true, mode: 0o700 });
    copyFileSync(a.authFile, other.authFile);
    const elsewhere = await other.run(['status']);
    expect(elsewhere.code).toBe(12);
    expect(elsewhere.stderr).toContain('were created on another device');
    expect((await a.run(['status'])).code).toBe(0);
  });

  it('a clock 10 minutes slow: corrected once from the server time, signed again, accepted', async () => {
    const { key, id } = await backend.server.createKey();
    const m = backend.machine(`proof-clock-${store.name}`, store.env());
    await loggedIn(m, key, store);
    const run = await m.run(['status'], { context: skewed(m, -600_000) });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const refused = (
      (await backend.server.audit(id)) as { event: string; detail: { code?: string } }[]
    ).filter((event) => event.event === 'proof_refused');
    expect(refused.map((event) => event.detail.code)).toEqual(['proof_stale']);
  });
});
